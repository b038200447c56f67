// Package jobs runs background jobs: a Registry of job types, each a kind with a typed payload and a
// handler; Enqueue, which writes a job to the outbox in the caller's transaction (so it exists only if the
// change that asks for it committed); and the Worker that the jobs-worker function runs on each message of
// the jobs queue.
//
// The Worker decodes the message (an outbox.Envelope), finds the handler by kind and runs it inside a
// transaction in the job's tenant, after recording the job's id with sqsx.Once in that same transaction:
// the effect and the dedupe record commit together, so a job delivered twice has one effect. A message
// that can never succeed (undecodable, an unknown kind, an invalid payload) fails with sqsx.Permanent and
// reaches the dead-letter queue without waiting out the retries' backoff.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Queue is the name of the jobs queue (config.Config.Queues["jobs"], QUEUE_URL_JOBS).
const Queue = "jobs"

// JobContext is what a handler knows about the job it runs.
type JobContext struct {
	// ID is the job's stable id (its outbox entry's id): the same on every delivery of the job.
	ID string
	// Kind is the job's type.
	Kind string
	// TenantID is the job's tenant, "" for a job of no tenant.
	TenantID string
	// Tx is the handler's transaction, in the job's tenant (row-level security applies). Write the job's
	// effects through it: they commit with the dedupe record, or not at all.
	Tx pgx.Tx
	// ReceiveCount is SQS's receive count of this delivery: 1 the first time.
	ReceiveCount int
	// EnqueuedAt is when the job was written to the outbox.
	EnqueuedAt time.Time
	// Log carries the job's id and kind.
	Log *slog.Logger
}

// Handler runs one job of payload type T. It returns nil when the job is done (its effects commit), an
// error to retry the job later with backoff, or Permanent(err) when retrying cannot help.
type Handler[T any] func(ctx context.Context, jc JobContext, payload T) error

// Permanent marks err as a failure that retrying cannot fix: the message goes to the dead-letter queue
// without further backoff. It is sqsx.Permanent, re-exported for handlers. Permanent(nil) is nil.
func Permanent(err error) error { return sqsx.Permanent(err) }

// Validator is implemented by payloads that can check themselves; the Worker calls Validate before the
// handler and fails the job permanently when it returns an error.
type Validator interface {
	Validate() error
}

// Registry maps job kinds to their handlers. Register every kind before the Worker handles its first
// message; after that the Registry is only read, and safe for concurrent use.
type Registry struct {
	kinds map[string]entry
}

// entry is a registered kind: prepare decodes and validates the payload and returns the bound handler.
type entry struct {
	prepare func(payload json.RawMessage) (func(ctx context.Context, jc JobContext) error, error)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]entry{}} }

// Register adds kind with handler h, whose payload is decoded from JSON into a T (and validated when T
// implements Validator). It panics when kind is empty or already registered: a wiring mistake that every
// test building the worker catches.
func Register[T any](r *Registry, kind string, h Handler[T]) {
	if strings.TrimSpace(kind) == "" {
		panic("jobs: Register with an empty kind")
	}
	if _, dup := r.kinds[kind]; dup {
		panic(fmt.Sprintf("jobs: kind %q registered twice", kind))
	}
	r.kinds[kind] = entry{prepare: func(raw json.RawMessage) (func(context.Context, JobContext) error, error) {
		var v T
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("payload of %s: %w", kind, err)
			}
		}
		if val, ok := any(&v).(Validator); ok {
			if err := val.Validate(); err != nil {
				return nil, fmt.Errorf("payload of %s: %w", kind, err)
			}
		}
		return func(ctx context.Context, jc JobContext) error { return h(ctx, jc, v) }, nil
	}}
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Job is a job to enqueue.
type Job struct {
	// ID is the job's id (a UUID); Enqueue generates one when empty. Set it to publish the job with
	// outbox.Outbox.PublishNow after the commit.
	ID string
	// Kind is a registered kind. Required.
	Kind string
	// TenantID is the job's tenant (the transaction's), "" for none.
	TenantID string
	// Payload is the job's payload, marshalled with encoding/json.
	Payload any
	// Delay postpones the job.
	Delay time.Duration
}

// Enqueue writes j to the outbox in tx, for the jobs queue. Its errors are outbox.Add's.
func Enqueue(ctx context.Context, tx pgx.Tx, j Job) error {
	return outbox.Add(ctx, tx, outbox.Entry{ID: j.ID, Queue: Queue, Kind: j.Kind, TenantID: j.TenantID, Payload: j.Payload, Delay: j.Delay})
}
