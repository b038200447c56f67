package sqsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/lambdax"
)

// Backoff defaults.
const (
	// DefaultBaseDelay is the backoff bound after the first failed delivery; it doubles with each receive.
	DefaultBaseDelay = 5 * time.Second
	// DefaultMaxDelay caps the backoff bound.
	DefaultMaxDelay = 15 * time.Minute
	// maxVisibility is the longest visibility timeout SQS accepts (12 hours).
	maxVisibility = 12 * time.Hour
)

// Options tune a Consumer. The zero value is the defaults.
type Options struct {
	// BaseDelay is the backoff bound after the first failed delivery (default 5 s). After the n-th
	// delivery fails the message stays invisible for a random time in (0, min(MaxDelay, BaseDelay*2^(n-1))]
	// ("full jitter"), rounded up to whole seconds and at least one second.
	BaseDelay time.Duration
	// MaxDelay caps the backoff bound (default 15 minutes; at most 12 hours, SQS's limit).
	MaxDelay time.Duration
	// Queues maps queue names to URLs (config.Config.Queues). A message whose event source ARN names one
	// of these queues needs no GetQueueUrl call; any other queue's URL is looked up once and cached.
	Queues map[string]string
}

func (o Options) withDefaults() Options {
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	o.MaxDelay = min(o.MaxDelay, maxVisibility)
	o.BaseDelay = min(o.BaseDelay, o.MaxDelay)
	return o
}

// Consumer adapts h, which handles one message, to lambdax.SQS. name identifies the consumer in logs.
//
// When h returns nil the message counts as handled (Lambda deletes it). When h fails, the Consumer sets
// the message's visibility timeout to the backoff for its receive count (see Options.BaseDelay) with
// ChangeMessageVisibility and returns h's error, so lambdax.SQS reports the message in BatchItemFailures
// and SQS delivers it again once the backoff ends; after the queue's maxReceiveCount receives SQS moves
// it to the dead-letter queue. An error marked with Permanent skips the backoff (visibility 0). If
// setting the visibility fails too, both errors are returned joined and the message comes back after the
// queue's own visibility timeout. A context that has ended is respected: h is not called and ctx's error
// is returned; when h fails because ctx ended, no visibility change is attempted.
//
// The queue URL that ChangeMessageVisibility needs comes from the message's event source ARN: matched
// against Options.Queues, else resolved with GetQueueUrl and cached for the Consumer's life.
func Consumer(c *Client, log *slog.Logger, name string, h func(ctx context.Context, d Delivery) error, o Options) lambdax.MessageHandler {
	o = o.withDefaults()
	urls := newResolver(c, o.Queues)
	return func(ctx context.Context, msg events.SQSMessage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := deliveryOf(msg)
		err := h(ctx, d)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || msg.ReceiptHandle == "" {
			return err
		}
		wait := time.Duration(0)
		if !IsPermanent(err) {
			wait = backoff(d.ReceiveCount, o.BaseDelay, o.MaxDelay, rand.Int64N)
		}
		if verr := setVisibility(ctx, c, urls, msg, wait); verr != nil {
			return errors.Join(err, fmt.Errorf("sqsx: %s: set backoff: %w", name, verr))
		}
		log.LogAttrs(ctx, slog.LevelDebug, "message retry scheduled", slog.String("consumer", name),
			slog.String("id", d.ID), slog.Int("receive_count", d.ReceiveCount), slog.Duration("backoff", wait),
			slog.Bool("permanent", IsPermanent(err)))
		return err
	}
}

func setVisibility(ctx context.Context, c *Client, urls *resolver, msg events.SQSMessage, wait time.Duration) error {
	queueURL, err := urls.url(ctx, msg.EventSourceARN)
	if err != nil {
		return err
	}
	return c.ChangeMessageVisibility(ctx, queueURL, msg.ReceiptHandle, int32(wait/time.Second))
}

// backoff returns the visibility timeout after the receiveCount-th delivery failed: full jitter over
// (0, min(maxDelay, base*2^(receiveCount-1))], rounded up to whole seconds, at least one second (zero
// would make the message visible at once, which is what Permanent is for). randN(n) returns a uniform
// value in [0, n).
func backoff(receiveCount int, base, maxDelay time.Duration, randN func(int64) int64) time.Duration {
	if receiveCount < 1 {
		receiveCount = 1
	}
	bound := maxDelay
	if shift := receiveCount - 1; shift < 62 && base <= maxDelay>>shift {
		bound = base << shift
	}
	d := time.Duration(randN(int64(bound))) + 1
	secs := max(1, int64(math.Ceil(d.Seconds())))
	return time.Duration(secs) * time.Second
}

// deliveryOf reads what the handler needs from a Lambda SQS record.
func deliveryOf(msg events.SQSMessage) Delivery {
	d := Delivery{ID: msg.MessageId, Body: []byte(msg.Body), ReceiveCount: 1, Raw: msg}
	if n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"]); err == nil && n > 0 {
		d.ReceiveCount = n
	}
	for k, a := range msg.MessageAttributes {
		if a.StringValue == nil || !(strings.HasPrefix(a.DataType, "String") || strings.HasPrefix(a.DataType, "Number")) {
			continue
		}
		if k == IDAttribute {
			if *a.StringValue != "" {
				d.ID = *a.StringValue
			}
			continue
		}
		if d.Attributes == nil {
			d.Attributes = make(map[string]string, len(msg.MessageAttributes))
		}
		d.Attributes[k] = *a.StringValue
	}
	return d
}

// resolver finds a queue's URL from its ARN: first among the configured queues, then with a cached
// GetQueueUrl. It is safe for concurrent use.
type resolver struct {
	c     *Client
	known map[string]string // queue name (last path segment of the URL) -> URL

	mu    sync.Mutex
	cache map[string]string // ARN -> URL
}

func newResolver(c *Client, queues map[string]string) *resolver {
	r := &resolver{c: c, known: make(map[string]string, len(queues)), cache: map[string]string{}}
	for _, u := range queues {
		if pu, err := url.Parse(u); err == nil && pu.Path != "" {
			r.known[path.Base(pu.Path)] = u
		}
	}
	return r
}

func (r *resolver) url(ctx context.Context, arn string) (string, error) {
	account, name, err := parseARN(arn)
	if err != nil {
		return "", err
	}
	if u, ok := r.known[name]; ok {
		return u, nil
	}
	r.mu.Lock()
	u, ok := r.cache[arn]
	r.mu.Unlock()
	if ok {
		return u, nil
	}
	u, err = r.c.GetQueueURL(ctx, name, account)
	if err != nil {
		return "", fmt.Errorf("queue URL of %s: %w", arn, err)
	}
	r.mu.Lock()
	r.cache[arn] = u
	r.mu.Unlock()
	return u, nil
}

// parseARN splits arn:<partition>:sqs:<region>:<account>:<name>.
func parseARN(arn string) (account, name string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[4] == "" || parts[5] == "" {
		return "", "", fmt.Errorf("not an SQS queue ARN: %q", arn)
	}
	return parts[4], parts[5], nil
}
