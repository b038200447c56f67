package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Options tune a Dispatcher. Zero fields take the documented defaults.
type Options struct {
	// Schedule is the wait before each attempt, the first attempt first (default DefaultSchedule()).
	Schedule []time.Duration
	// Jitter spreads each wait by ± this fraction of itself (default DefaultJitter, 10%; negative means none).
	Jitter float64
	// MaxQueueDelay is the longest wait sent as a queue message delay (default 15 min, SQS's limit);
	// longer waits are stored in next_attempt_at for SweepDue.
	MaxQueueDelay time.Duration
	// Timeout bounds one attempt, response included: success is a 2xx within it (default 15 s).
	Timeout time.Duration
	// FailureWindow: an endpoint failing continuously for this long is disabled (default 5 days).
	FailureWindow time.Duration
	// Lease is how long an attempt may be in flight before SweepDue gives up on it and queues the next
	// one (default Timeout + 1 min).
	Lease time.Duration
	// SafetyNet is how long after a queued attempt is due SweepDue queues it again, in case its message
	// was lost (default 5 min). A duplicate is harmless: only one message claims an attempt.
	SafetyNet time.Duration
	// Rand returns a number in [0, 1) for the jitter (default math/rand/v2.Float64).
	Rand func() float64
	// Now is the clock of the webhook-timestamp header (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule()
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	}
	if o.MaxQueueDelay <= 0 {
		o.MaxQueueDelay = 15 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 5 * 24 * time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = o.Timeout + time.Minute
	}
	if o.SafetyNet <= 0 {
		o.SafetyNet = 5 * time.Minute
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Dispatcher fans events out to endpoints and makes delivery attempts. It is safe for concurrent use.
type Dispatcher struct {
	store  DeliveryStore
	queue  Enqueuer
	client *http.Client
	log    *slog.Logger
	o      Options
}

// NewDispatcher returns a dispatcher over store and queue whose requests go through guard.
func NewDispatcher(store DeliveryStore, queue Enqueuer, guard *Guard, log *slog.Logger, o Options) *Dispatcher {
	o = o.withDefaults()
	return &Dispatcher{store: store, queue: queue, client: guard.Client(o.Timeout), log: log, o: o}
}

// FanOut creates one delivery of ev per enabled endpoint of its tenant subscribed to its type and queues
// their first attempts, returning how many deliveries it created. Fanning out the same event again creates
// nothing. An invalid event is ErrMalformed (wrapped). A failure to queue is logged, not returned: the
// deliveries are stored, and SweepDue queues them after Options.SafetyNet. Other errors mean nothing was
// created.
func (d *Dispatcher) FanOut(ctx context.Context, ev Event) (int, error) {
	if err := ev.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	jobs, err := d.store.CreateDeliveries(ctx, ev, d.o.SafetyNet)
	if err != nil {
		return 0, fmt.Errorf("webhook: fan out %s: %w", ev.Type, err)
	}
	if len(jobs) > 0 {
		if err := d.queue.Enqueue(ctx, jobs...); err != nil {
			d.log.LogAttrs(ctx, slog.LevelWarn, "webhook: queueing first attempts failed; the sweep will queue them",
				slog.String("event_id", ev.ID), slog.Int("deliveries", len(jobs)), slog.Any("error", err))
		}
	}
	return len(jobs), nil
}

// SweepDue queues the next attempt of at most limit deliveries whose next_attempt_at has passed (long
// waits, and attempts whose message or outcome was lost), returning how many it queued. A schedule calls
// it (every minute). It returns an error when the store or the queue fails; deliveries not queued are
// found again after Options.SafetyNet.
func (d *Dispatcher) SweepDue(ctx context.Context, limit int) (int, error) {
	jobs, err := d.store.SweepDue(ctx, limit, d.o.SafetyNet)
	if err != nil {
		return 0, fmt.Errorf("webhook: sweep: %w", err)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	if err := d.queue.Enqueue(ctx, jobs...); err != nil {
		return 0, fmt.Errorf("webhook: sweep: queue %d jobs: %w", len(jobs), err)
	}
	return len(jobs), nil
}

// Handle handles one message of the webhooks queue, which is either of:
//   - a Job (Job.Body): make that attempt. Handle returns nil when the attempt was made and recorded,
//     whatever the receiver answered (a failure is retried on the schedule, not by redelivering the
//     message), and when the job is stale or the endpoint disabled;
//   - an event, in the outbox's envelope {"id", "kind", "tenant_id", "payload"} (an outbox entry for the
//     queue "webhooks" whose kind is the event type): fan it out (FanOut), the entry's id as the event id.
//
// A body that is neither is ErrMalformed (wrapped): never retry it. Any other error (the database) means
// the message should be retried; for an attempt, the claim's lease makes SweepDue retry it too.
func (d *Dispatcher) Handle(ctx context.Context, body []byte) error {
	var m struct {
		DeliveryID string          `json:"delivery_id"`
		ID         string          `json:"id"`
		Kind       string          `json:"kind"`
		TenantID   string          `json:"tenant_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.DeliveryID == "" && m.Kind != "" {
		_, err := d.FanOut(ctx, Event{ID: m.ID, TenantID: m.TenantID, Type: m.Kind, Payload: m.Payload})
		return err
	}
	job, err := DecodeJob(body)
	if err != nil {
		return err
	}
	return d.attemptJob(ctx, job)
}

// attemptJob claims, makes and records one attempt, then queues the next when it goes through the queue.
func (d *Dispatcher) attemptJob(ctx context.Context, job Job) error {
	target, err := d.store.Claim(ctx, job, d.o.Lease)
	switch {
	case errors.Is(err, ErrStale):
		d.log.LogAttrs(ctx, slog.LevelDebug, "webhook: stale job dropped", slog.String("delivery_id", job.DeliveryID), slog.Int("attempt", job.Attempt))
		return nil
	case errors.Is(err, ErrEndpointDisabled):
		d.log.LogAttrs(ctx, slog.LevelInfo, "webhook: endpoint disabled, delivery dead", slog.String("delivery_id", job.DeliveryID))
		return nil
	case err != nil:
		return fmt.Errorf("webhook: claim %s: %w", job.DeliveryID, err)
	}

	res := d.attempt(ctx, job, target)
	// The attempt happened: record it even if ctx ended meanwhile (the Lambda's deadline), within a bound.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	rec, err := d.store.Record(rctx, res)
	if err != nil {
		return fmt.Errorf("webhook: record attempt %d of %s: %w", job.Attempt, job.DeliveryID, err)
	}
	attrs := []slog.Attr{slog.String("delivery_id", job.DeliveryID), slog.String("endpoint_id", res.EndpointID),
		slog.Int("attempt", job.Attempt), slog.Int("status", res.StatusCode), slog.Bool("succeeded", res.Succeeded),
		slog.Duration("duration", res.Duration)}
	if res.Error != "" {
		attrs = append(attrs, slog.String("error", res.Error))
	}
	d.log.LogAttrs(ctx, slog.LevelInfo, "webhook: attempt", attrs...)
	if rec.Disabled {
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhook: endpoint disabled", slog.String("endpoint_id", res.EndpointID), slog.String("reason", rec.Reason))
	}
	if res.Retry != nil && res.Queued {
		next := Job{DeliveryID: job.DeliveryID, TenantID: job.TenantID, Attempt: job.Attempt + 1, Delay: *res.Retry}
		if err := d.queue.Enqueue(ctx, next); err != nil {
			d.log.LogAttrs(ctx, slog.LevelWarn, "webhook: queueing the next attempt failed; the sweep will queue it",
				slog.String("delivery_id", job.DeliveryID), slog.Any("error", err))
		}
	}
	return nil
}

// Body returns the request body of a delivery: {"type", "timestamp", "data"} as Standard Webhooks suggests.
func Body(dl Delivery) ([]byte, error) {
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{dl.EventType, dl.CreatedAt.UTC(), dl.Payload})
}

// recordTimeout bounds recording an attempt's outcome.
const recordTimeout = 5 * time.Second

// maxErrorLen bounds the error text kept per attempt.
const maxErrorLen = 500

// attempt sends one request and classifies the answer.
func (d *Dispatcher) attempt(ctx context.Context, job Job, t Target) Result {
	res := Result{Job: job, EndpointID: t.Delivery.EndpointID, SafetyNet: d.o.SafetyNet, FailureWindow: d.o.FailureWindow}
	start := time.Now()
	status, err := d.send(ctx, t)
	res.Duration, res.StatusCode = time.Since(start), status
	switch {
	case err == nil && status >= 200 && status < 300:
		res.Succeeded = true
		return res
	case err != nil:
		res.Error = err.Error()
		if len(res.Error) > maxErrorLen {
			res.Error = res.Error[:maxErrorLen]
		}
	case status == http.StatusGone:
		res.Error, res.Gone = "410 Gone: the receiver asked for no more deliveries", true
		return res
	default:
		res.Error = "HTTP " + strconv.Itoa(status)
	}
	if wait, ok := NextDelay(d.o.Schedule, job.Attempt, d.o.Jitter, d.o.Rand()); ok {
		res.Retry, res.Queued = &wait, wait <= d.o.MaxQueueDelay
	}
	return res
}

// send posts the signed delivery and returns the response status.
func (d *Dispatcher) send(ctx context.Context, t Target) (int, error) {
	body, err := Body(t.Delivery)
	if err != nil {
		return 0, err
	}
	ts := d.o.Now()
	sig, err := SignatureHeader(t.Secrets, t.Delivery.ID, ts, body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Corral-Webhooks/1")
	req.Header.Set("webhook-id", t.Delivery.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read (a bounded part of) the body within the timeout, so a 2xx really arrived in time, and the
	// connection can be reused.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return resp.StatusCode, fmt.Errorf("reading the response: %w", err)
	}
	return resp.StatusCode, nil
}
