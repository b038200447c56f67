// Package audit records security-relevant events (rate-limit violations, authentication failures, lockouts)
// in the audit_events table, off the request path: Record only queues; a background loop writes batches.
//
// Delivery is best effort: when the queue is full an event is dropped and counted (Stats). A request never
// fails because of the audit log. In Lambda, where an execution environment is frozen between invocations
// and ended without notice, a function flushes the writer before each invocation's response goes back
// (platform); a flush with nothing pending returns at once, so only the invocations that recorded an event
// wait for its write.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of events written by the shared middleware.
const (
	KindRateLimited   = "rate_limit.exceeded"
	KindRateLimitDown = "rate_limit.unavailable"
	KindAuthFailed    = "auth.failed"
)

// Event is one audit row. TenantID and UserID may be empty for anonymous callers.
type Event struct {
	TenantID  string
	UserID    string
	Kind      string
	IP        string
	Route     string
	RequestID string
	Detail    map[string]any
	At        time.Time
}

// Sink writes a batch of events that share one tenant ("" for none). It is the storage side of the Writer.
type Sink interface {
	WriteAudit(ctx context.Context, tenantID string, events []Event) error
}

// Stats counts what the Writer did since it started.
type Stats struct {
	Written, Dropped, Failed uint64
}

// Writer queues events and writes them in batches in the background.
type Writer struct {
	sink    Sink
	log     *slog.Logger
	queue   chan Event
	flushRq chan chan struct{}
	done    chan struct{}
	stop    sync.Once

	written, dropped, failed atomic.Uint64
	// pending counts the events queued and not yet written, failed or dropped.
	pending atomic.Int64
}

// Defaults for the writer.
const (
	DefaultQueueSize = 1024
	batchSize        = 100
	writeTimeout     = 5 * time.Second
)

// NewWriter starts the background loop; call Close to stop it after a final flush.
func NewWriter(sink Sink, log *slog.Logger, queueSize int) *Writer {
	if queueSize <= 0 {
		queueSize = DefaultQueueSize
	}
	w := &Writer{
		sink:    sink,
		log:     log,
		queue:   make(chan Event, queueSize),
		flushRq: make(chan chan struct{}),
		done:    make(chan struct{}),
	}
	go w.loop()
	return w
}

// Record queues e without blocking. When the queue is full, or the Writer is closed, the event is dropped
// and counted.
func (w *Writer) Record(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	select {
	case <-w.done: // the loop has stopped: a queued event would never be written
		w.dropped.Add(1)
		return
	default:
	}
	w.pending.Add(1)
	select {
	case w.queue <- e:
	default:
		w.pending.Add(-1)
		w.dropped.Add(1)
	}
}

// Flush waits until every event queued before the call has been written (or failed), or ctx ends. With
// nothing pending it returns at once, without a word to the background loop.
func (w *Writer) Flush(ctx context.Context) error {
	if w.pending.Load() == 0 {
		return nil
	}
	ack := make(chan struct{})
	select {
	case w.flushRq <- ack:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes and stops the loop. When ctx ends first, the events still queued are never written: they
// are counted as dropped (a batch the loop is writing at that moment finishes, or fails, as usual). Record
// after Close drops events.
func (w *Writer) Close(ctx context.Context) error {
	err := w.Flush(ctx)
	w.stop.Do(func() { close(w.done) })
	for {
		select {
		case <-w.queue:
			w.pending.Add(-1)
			w.dropped.Add(1)
		default:
			return err
		}
	}
}

// Pending reports how many events are queued or being written.
func (w *Writer) Pending() int64 { return w.pending.Load() }

// Stats reports the counters.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load()}
}

func (w *Writer) loop() {
	batch := make([]Event, 0, batchSize)
	for {
		select {
		case <-w.done:
			return
		case e := <-w.queue:
			batch = append(batch[:0], e)
			batch = w.drain(batch)
			w.write(batch)
		case ack := <-w.flushRq:
			for len(w.queue) > 0 {
				batch = w.drain(batch[:0])
				w.write(batch)
			}
			close(ack)
		}
	}
}

func (w *Writer) drain(batch []Event) []Event {
	for len(batch) < batchSize {
		select {
		case e := <-w.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

func (w *Writer) write(batch []Event) {
	defer w.pending.Add(-int64(len(batch)))
	byTenant := map[string][]Event{}
	for _, e := range batch {
		byTenant[e.TenantID] = append(byTenant[e.TenantID], e)
	}
	for tenant, events := range byTenant {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := w.sink.WriteAudit(ctx, tenant, events)
		cancel()
		if err != nil {
			w.failed.Add(uint64(len(events)))
			w.log.LogAttrs(context.Background(), slog.LevelWarn, "audit write failed",
				slog.Int("events", len(events)), slog.Any("error", err))
			continue
		}
		w.written.Add(uint64(len(events)))
	}
}

// DetailJSON encodes an event's detail for storage ("{}" when empty).
func DetailJSON(d map[string]any) []byte {
	if len(d) == 0 {
		return []byte("{}")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return []byte("{}")
	}
	return b
}
