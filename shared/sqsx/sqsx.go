// Package sqsx is the adapter over Amazon SQS that every queue producer and consumer shares:
//
//   - Client calls SQS over its JSON protocol (shared/awsjson), in place of the SDK's generated client;
//   - Publisher sends messages to a queue by name, in batches, each carrying its stable id in the message
//     attribute "corral-id";
//   - Consumer turns a func(ctx, Delivery) error into a lambdax.MessageHandler that retries a failed
//     message with exponential backoff and full jitter (through ChangeMessageVisibility) until SQS moves it
//     to the dead-letter queue after the queue's maxReceiveCount;
//   - Once records a message as processed inside the handler's own transaction, so a redelivery never
//     repeats the effect;
//   - Queues reads queue depths and redrives a dead-letter queue, for queues-admin.
//
// SQS delivers at least once: every consumer must be idempotent, which Once makes cheap.
package sqsx

import (
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// IDAttribute is the message attribute that carries a message's stable id (Message.ID).
const IDAttribute = "corral-id"

// MaxDelay is the longest delay SQS accepts for a message (DelaySeconds 900). Longer waits must be kept
// elsewhere (a table with a due time) and sent when due.
const MaxDelay = 15 * time.Minute

// Message is one message to send.
type Message struct {
	// ID is the stable id of the job or event the message carries (a UUID), sent as the message attribute
	// "corral-id"; consumers dedupe on it, so a message published twice has one effect. Required.
	ID string
	// Body is the payload, usually JSON. SQS accepts only valid Unicode text.
	Body []byte
	// Delay postpones the first delivery, at most MaxDelay; zero or negative means none.
	Delay time.Duration
	// Attributes are extra string message attributes (at most 9: SQS allows 10 including corral-id).
	Attributes map[string]string
}

// Delivery is one received message as the consumer's handler sees it.
type Delivery struct {
	// ID is the corral-id attribute, or the SQS message id for a message sent without one.
	ID string
	// Body is the message body.
	Body []byte
	// ReceiveCount is SQS's ApproximateReceiveCount: 1 on the first delivery.
	ReceiveCount int
	// Attributes are the message's string and number attributes, without corral-id.
	Attributes map[string]string
	// Raw is the message as Lambda delivered it.
	Raw events.SQSMessage
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying with backoff cannot fix (an undecodable payload, a job
// for a row that no longer exists). The Consumer then skips the backoff: it makes the message visible
// again at once (visibility 0) and reports it failed, so SQS redelivers it immediately and, after the
// queue's maxReceiveCount receives, moves it to the dead-letter queue without waiting out a backoff. The
// message is never dropped: a permanent failure still lands in the dead-letter queue, where it can be
// inspected and redriven. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
