package sqsx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SQS batch limits: 10 entries per SendMessageBatch, and a payload budget kept under the smallest total
// SQS has accepted for a batch (256 KiB), so a batch is never refused as too long.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 << 10
)

// ErrUnknownQueue is returned for a queue name that has no URL (no QUEUE_URL_<NAME> was configured).
var ErrUnknownQueue = errors.New("sqsx: unknown queue")

// Publisher sends messages to queues by name. It is safe for concurrent use.
type Publisher struct {
	c      *Client
	queues map[string]string
}

// NewPublisher returns a Publisher over c that resolves queue names through queues (name -> URL, as in
// config.Config.Queues). The map is copied.
func NewPublisher(c *Client, queues map[string]string) *Publisher {
	m := make(map[string]string, len(queues))
	for k, v := range queues {
		m[k] = v
	}
	return &Publisher{c: c, queues: m}
}

// Failure is one message that Send could not deliver to SQS.
type Failure struct {
	// ID is the failed Message's ID.
	ID string
	// Err is why: SQS's per-entry code and message, or the error of the whole call.
	Err error
}

// SendError lists the messages of one Send that SQS did not accept; every message not listed was sent.
// It unwraps to each failure's error.
type SendError struct {
	Failed []Failure
}

func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sqsx: %d message(s) not sent:", len(e.Failed))
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " %s (%v);", f.ID, f.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns each failure's error, so errors.Is sees, for example, a cancelled context.
func (e *SendError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// FailedIDs returns the IDs of the messages that were not sent, in order.
func (e *SendError) FailedIDs() []string {
	ids := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		ids[i] = f.ID
	}
	return ids
}

// Send sends msgs to the named queue with SendMessageBatch, in batches of at most 10 (fewer when the
// bodies are large). Messages are validated first: an unknown queue wraps ErrUnknownQueue, and a message
// without an ID or with a delay over MaxDelay fails the whole call before anything is sent. Otherwise
// the error, if any, is a *SendError naming exactly the messages that were not sent (those SQS refused,
// and every message of a batch whose call failed); the rest were sent. When ctx ends, the batches not yet
// sent are reported failed without being tried.
func (p *Publisher) Send(ctx context.Context, queue string, msgs ...Message) error {
	url, ok := p.queues[queue]
	if !ok || url == "" {
		return fmt.Errorf("%w %q", ErrUnknownQueue, queue)
	}
	for _, m := range msgs {
		if m.ID == "" {
			return errors.New("sqsx: a message needs an ID")
		}
		if m.Delay > MaxDelay {
			return fmt.Errorf("sqsx: message %s: delay %s is longer than SQS's %s", m.ID, m.Delay, MaxDelay)
		}
	}
	var failed []Failure
	for _, batch := range batches(msgs) {
		failed = append(failed, p.sendBatch(ctx, url, batch)...)
	}
	if len(failed) > 0 {
		return &SendError{Failed: failed}
	}
	return nil
}

// sendBatch sends one batch and returns the messages that were not sent.
func (p *Publisher) sendBatch(ctx context.Context, url string, batch []Message) []Failure {
	if err := ctx.Err(); err != nil {
		return failAll(batch, err)
	}
	entries := make([]SendEntry, len(batch))
	for i, m := range batch {
		entries[i] = SendEntry{
			ID:                strconv.Itoa(i),
			MessageBody:       string(m.Body),
			DelaySeconds:      delaySeconds(m),
			MessageAttributes: messageAttributes(m),
		}
	}
	out, err := p.c.SendMessageBatch(ctx, url, entries)
	if err != nil {
		return failAll(batch, err)
	}
	var failed []Failure
	for _, f := range out.Failed {
		i, err := strconv.Atoi(f.ID)
		if err != nil || i < 0 || i >= len(batch) {
			continue // not an id we sent; cannot happen with a conforming server
		}
		failed = append(failed, Failure{ID: batch[i].ID, Err: f.Error()})
	}
	// A conforming server answers every entry; one that answers neither way is counted as not sent.
	if answered := len(out.Successful) + len(out.Failed); answered < len(batch) {
		seen := make(map[string]bool, answered)
		for _, s := range out.Successful {
			seen[s.ID] = true
		}
		for _, f := range out.Failed {
			seen[f.ID] = true
		}
		for i, m := range batch {
			if !seen[strconv.Itoa(i)] {
				failed = append(failed, Failure{ID: m.ID, Err: errors.New("no answer from SQS for this entry")})
			}
		}
	}
	return failed
}

func failAll(batch []Message, err error) []Failure {
	out := make([]Failure, len(batch))
	for i, m := range batch {
		out[i] = Failure{ID: m.ID, Err: err}
	}
	return out
}

// delaySeconds rounds a delay up to whole seconds (SQS's unit), so a message is never delivered early.
func delaySeconds(m Message) int32 {
	if m.Delay <= 0 {
		return 0
	}
	return int32(math.Ceil(m.Delay.Seconds()))
}

func messageAttributes(m Message) map[string]MessageAttribute {
	attrs := make(map[string]MessageAttribute, len(m.Attributes)+1)
	for k, v := range m.Attributes {
		attrs[k] = StringAttribute(v)
	}
	attrs[IDAttribute] = StringAttribute(m.ID)
	return attrs
}

// size estimates a message's share of a batch request's payload.
func size(m Message) int {
	n := len(m.Body) + len(IDAttribute) + len(m.ID) + 2*len("String")
	for k, v := range m.Attributes {
		n += len(k) + len(v) + len("String")
	}
	return n
}

// batches splits msgs into runs of at most maxBatchEntries messages and maxBatchBytes of payload, in
// order. A message larger than the budget travels alone (SQS judges it).
func batches(msgs []Message) [][]Message {
	var out [][]Message
	start, bytes := 0, 0
	for i, m := range msgs {
		s := size(m)
		if i > start && (i-start == maxBatchEntries || bytes+s > maxBatchBytes) {
			out = append(out, msgs[start:i])
			start, bytes = i, 0
		}
		bytes += s
	}
	if start < len(msgs) {
		out = append(out, msgs[start:])
	}
	return out
}
