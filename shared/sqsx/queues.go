package sqsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNoDeadLetterQueue is returned by Redrive for a queue without a redrive policy.
var ErrNoDeadLetterQueue = errors.New("sqsx: the queue has no dead-letter queue")

// Queues reads queue depths and redrives dead-letter queues, for the operators' admin routes. It is safe
// for concurrent use.
type Queues struct {
	c    *Client
	urls map[string]string
}

// NewQueues returns Queues over c for the named queues (name -> URL, as in config.Config.Queues). The map
// is copied.
func NewQueues(c *Client, urls map[string]string) *Queues {
	m := make(map[string]string, len(urls))
	for k, v := range urls {
		m[k] = v
	}
	return &Queues{c: c, urls: m}
}

// Depth is a queue's approximate message counts, as SQS reports them (eventually consistent).
type Depth struct {
	// Name is the queue's name: the configured name for a named queue, the SQS queue name for a
	// dead-letter queue.
	Name string
	URL  string
	// Visible counts messages ready for delivery (ApproximateNumberOfMessages).
	Visible int64
	// InFlight counts messages received and not yet deleted nor visible again
	// (ApproximateNumberOfMessagesNotVisible), including those waiting out a backoff.
	InFlight int64
	// Delayed counts messages sent with a delay not yet over (ApproximateNumberOfMessagesDelayed).
	Delayed int64
	// MaxReceiveCount is how many receives a message gets before SQS moves it to DeadLetter; zero when the
	// queue has no redrive policy.
	MaxReceiveCount int
	// DeadLetter is the depth of the queue's dead-letter queue; nil when it has none.
	DeadLetter *Depth
}

// Depths returns the depth of each named queue and of its dead-letter queue, in the order given. An
// unknown name wraps ErrUnknownQueue; SQS errors are returned wrapped with the queue's name.
func (q *Queues) Depths(ctx context.Context, names ...string) ([]Depth, error) {
	out := make([]Depth, 0, len(names))
	for _, name := range names {
		url, ok := q.urls[name]
		if !ok || url == "" {
			return nil, fmt.Errorf("%w %q", ErrUnknownQueue, name)
		}
		d, dlqARN, err := q.depth(ctx, name, url)
		if err != nil {
			return nil, err
		}
		if dlqARN != "" {
			dlqURL, err := q.urlOfARN(ctx, dlqARN)
			if err != nil {
				return nil, fmt.Errorf("sqsx: queue %s: dead-letter queue: %w", name, err)
			}
			_, dlqName, _ := parseARN(dlqARN)
			dl, _, err := q.depth(ctx, dlqName, dlqURL)
			if err != nil {
				return nil, err
			}
			d.DeadLetter = &dl
		}
		out = append(out, d)
	}
	return out, nil
}

// depth reads one queue's counts and its dead-letter target.
func (q *Queues) depth(ctx context.Context, name, url string) (Depth, string, error) {
	a, err := q.c.GetQueueAttributes(ctx, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
		"ApproximateNumberOfMessagesDelayed", "RedrivePolicy")
	if err != nil {
		return Depth{}, "", fmt.Errorf("sqsx: queue %s: attributes: %w", name, err)
	}
	count := func(k string) int64 {
		n, _ := strconv.ParseInt(a[k], 10, 64)
		return n
	}
	d := Depth{
		Name:     name,
		URL:      url,
		Visible:  count("ApproximateNumberOfMessages"),
		InFlight: count("ApproximateNumberOfMessagesNotVisible"),
		Delayed:  count("ApproximateNumberOfMessagesDelayed"),
	}
	dlqARN, maxReceives, err := parseRedrivePolicy(a["RedrivePolicy"])
	if err != nil {
		return Depth{}, "", fmt.Errorf("sqsx: queue %s: %w", name, err)
	}
	d.MaxReceiveCount = maxReceives
	return d, dlqARN, nil
}

// parseRedrivePolicy reads {"deadLetterTargetArn": "...", "maxReceiveCount": 5}; SQS writes the count as
// a number or a string depending on how it was set. An empty policy is no dead-letter queue.
func parseRedrivePolicy(s string) (dlqARN string, maxReceives int, err error) {
	if s == "" {
		return "", 0, nil
	}
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return "", 0, fmt.Errorf("redrive policy %q: %w", s, err)
	}
	raw := string(p.MaxReceiveCount)
	if uq, err := strconv.Unquote(raw); err == nil {
		raw = uq
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return "", 0, fmt.Errorf("redrive policy %q: maxReceiveCount is not a number", s)
	}
	return p.DeadLetterTargetArn, n, nil
}

func (q *Queues) urlOfARN(ctx context.Context, arn string) (string, error) {
	account, name, err := parseARN(arn)
	if err != nil {
		return "", err
	}
	u, err := q.c.GetQueueURL(ctx, name, account)
	if err != nil {
		return "", fmt.Errorf("queue URL of %s: %w", arn, err)
	}
	return u, nil
}

// Redrive moves up to limit messages from the named queue's dead-letter queue back to the queue, and
// returns how many it moved. An unknown name wraps ErrUnknownQueue and a queue without a redrive policy
// ErrNoDeadLetterQueue. See the package function Redrive for how messages move and what an error means.
func (q *Queues) Redrive(ctx context.Context, name string, limit int) (moved int, err error) {
	url, ok := q.urls[name]
	if !ok || url == "" {
		return 0, fmt.Errorf("%w %q", ErrUnknownQueue, name)
	}
	_, dlqARN, err := q.depth(ctx, name, url)
	if err != nil {
		return 0, err
	}
	if dlqARN == "" {
		return 0, fmt.Errorf("%w: %s", ErrNoDeadLetterQueue, name)
	}
	dlqURL, err := q.urlOfARN(ctx, dlqARN)
	if err != nil {
		return 0, fmt.Errorf("sqsx: queue %s: dead-letter queue: %w", name, err)
	}
	return Redrive(ctx, q.c, dlqURL, url, limit)
}

// Redrive settings: how long a message taken from the dead-letter queue stays hidden while it is copied,
// how long to wait for the dead-letter queue to yield messages, and the time kept in reserve before ctx's
// deadline (Lambda's timeout) to finish the batch in hand.
const (
	redriveVisibility = 30 * time.Second
	redriveWait       = 1 * time.Second
	redriveReserve    = 2 * time.Second
)

// Redrive moves up to limit messages (at least 1) from the dead-letter queue dlqURL back to sourceURL, and
// returns how many it moved. SQS's StartMessageMoveTask is not used: the local SQS server (fauxqs) does
// not implement it, and it reports no count. Instead Redrive receives up to 10 messages at a time from the
// dead-letter queue, sends them to the source with the same body and message attributes (corral-id
// among them) in one SendMessageBatch, and deletes from the dead-letter queue only the messages whose send
// succeeded. A moved message is a new message to the source queue: its receive count starts again.
//
// It stops when the dead-letter queue yields nothing for a second, when limit is reached, or when ctx has
// less than two seconds left (call it again to continue). Messages whose send failed stay in the
// dead-letter queue and are visible again after 30 s; they are reported in the error (a *SendError, with
// the SQS message ids). If a delete fails after a successful send, the message is in both queues and a
// later redrive sends it again: consumers dedupe on corral-id (Once), so it still has one effect. moved
// counts the messages sent and deleted, also when an error is returned.
func Redrive(ctx context.Context, c *Client, dlqURL, sourceURL string, limit int) (moved int, err error) {
	limit = max(limit, 1)
	for moved < limit {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < redriveReserve {
			return moved, nil
		}
		msgs, err := c.ReceiveMessage(ctx, ReceiveInput{
			QueueURL:              dlqURL,
			MaxNumberOfMessages:   int32(min(limit-moved, 10)),
			WaitTimeSeconds:       int32(redriveWait / time.Second),
			VisibilityTimeout:     int32(redriveVisibility / time.Second),
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("sqsx: redrive: receive: %w", err)
		}
		if len(msgs) == 0 {
			return moved, nil
		}
		n, err := moveBatch(ctx, c, dlqURL, sourceURL, msgs)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// moveBatch sends msgs to sourceURL and deletes from dlqURL those sent; it returns how many were both.
func moveBatch(ctx context.Context, c *Client, dlqURL, sourceURL string, msgs []ReceivedMessage) (int, error) {
	entries := make([]SendEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = SendEntry{
			ID:                strconv.Itoa(i),
			MessageBody:       m.Body,
			MessageAttributes: m.MessageAttributes,
		}
	}
	sent, err := c.SendMessageBatch(ctx, sourceURL, entries)
	if err != nil {
		return 0, fmt.Errorf("sqsx: redrive: send: %w", err)
	}
	var sendErr *SendError
	for _, f := range sent.Failed {
		if i, err := strconv.Atoi(f.ID); err == nil && i >= 0 && i < len(msgs) {
			if sendErr == nil {
				sendErr = &SendError{}
			}
			sendErr.Failed = append(sendErr.Failed, Failure{ID: msgs[i].MessageID, Err: f.Error()})
		}
	}
	var dels []DeleteEntry
	for _, s := range sent.Successful {
		if i, err := strconv.Atoi(s.ID); err == nil && i >= 0 && i < len(msgs) {
			dels = append(dels, DeleteEntry{ID: s.ID, ReceiptHandle: msgs[i].ReceiptHandle})
		}
	}
	moved := 0
	if len(dels) > 0 {
		del, err := c.DeleteMessageBatch(ctx, dlqURL, dels)
		if err != nil {
			return 0, errors.Join(fmt.Errorf("sqsx: redrive: delete after send: %w", err), nilIfEmpty(sendErr))
		}
		moved = len(del.Successful)
		if len(del.Failed) > 0 {
			return moved, errors.Join(fmt.Errorf("sqsx: redrive: %d message(s) sent but not deleted from the dead-letter queue: %s: %s",
				len(del.Failed), del.Failed[0].Code, del.Failed[0].Message), nilIfEmpty(sendErr))
		}
	}
	return moved, nilIfEmpty(sendErr)
}

// nilIfEmpty returns a nil error for a nil *SendError (avoiding a non-nil interface holding nil).
func nilIfEmpty(e *SendError) error {
	if e == nil {
		return nil
	}
	return e
}
