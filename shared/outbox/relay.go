package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Relay settings (each knob with its default; RelayOptions overrides them).
const (
	// DefaultBatch is how many rows one relay transaction claims, sends and marks.
	DefaultBatch = 100
	// DefaultReserve is the time a Run leaves before its context's deadline: it starts no batch later,
	// so the Lambda returns before its timeout.
	DefaultReserve = 5 * time.Second
	// DefaultPollInterval is Poll's wait after a look that left nothing due: the longest an entry waits
	// for the relay in steady state.
	DefaultPollInterval = 200 * time.Millisecond
)

// RelayOptions tune a Relay; the zero value means every default.
type RelayOptions struct {
	Options
	// Batch is the number of rows per transaction (default DefaultBatch).
	Batch int
	// Reserve is the time left unused before ctx's deadline (default DefaultReserve).
	Reserve time.Duration
	// PollInterval is Poll's wait between looks that find nothing due (default DefaultPollInterval).
	PollInterval time.Duration
}

// Relay publishes every pending, due entry of every tenant. It runs on a pool connected as the
// maintenance role (corral_maint, DATABASE_MAINTENANCE_URL), whose policy on outbox reaches all tenants.
// Several relays (overlapping scheduled runs, PublishNow) may run at once: each claims its rows with
// FOR UPDATE SKIP LOCKED, so no row is sent by two of them at the same time.
type Relay struct {
	pool *pgxpool.Pool
	pub  Publisher
	log  *slog.Logger
	opts RelayOptions
}

// NewRelay returns a relay reading through pool and sending with pub.
func NewRelay(pool *pgxpool.Pool, pub Publisher, log *slog.Logger, opts RelayOptions) *Relay {
	opts.Options = opts.Options.withDefaults()
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Reserve <= 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	return &Relay{pool: pool, pub: pub, log: log, opts: opts}
}

// PublishPending publishes, in one transaction, up to limit pending entries that are due (deliver_after
// has passed), oldest (lowest seq) first: it claims them with FOR UPDATE SKIP LOCKED, sends them, and
// marks them published before committing. It returns how many it published. On a failed send the rows
// sent before it are still marked published, the failed ones keep their place with attempts, last_error
// and a later deliver_after recorded, and the send error is returned (wrapped); any other error (the
// database) rolls the batch back, leaving every claimed row pending.
func (r *Relay) PublishPending(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("outbox: relay: limit must be positive, got %d", limit)
	}
	const q = `
SELECT id, seq, coalesce(tenant_id::text, ''), queue, kind, payload, created_at, attempts, 0::float8
FROM outbox
WHERE published_at IS NULL AND deliver_after <= now()
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED`
	var n int
	var sendErr error
	dbCtx, cancel := bookkeeping(ctx)
	defer cancel()
	err := pgx.BeginFunc(dbCtx, r.pool, func(tx pgx.Tx) error {
		rows, err := claim(dbCtx, tx, q, limit)
		if err != nil {
			return err
		}
		n, sendErr, err = publish(ctx, dbCtx, tx, r.pub, r.opts.Options, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: relay: %w", err)
	}
	return n, sendErr
}

// Run publishes batches until none is left to publish, a send fails, or ctx is within the reserve of its
// deadline (or done). It returns the number published and the first error; rows it did not reach stay
// pending for the next run. Each run is logged.
func (r *Relay) Run(ctx context.Context) (int, error) {
	total := 0
	start := time.Now()
	var err error
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.opts.Reserve {
			break
		}
		if err = ctx.Err(); err != nil {
			break
		}
		var n int
		n, err = r.PublishPending(ctx, r.opts.Batch)
		total += n
		if err != nil || n < r.opts.Batch {
			break
		}
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	r.log.LogAttrs(ctx, level, "outbox relay", slog.Int("published", total),
		slog.Duration("elapsed", time.Since(start)), slog.Any("error", err))
	return total, err
}

// Poll is the relay as the writers' publisher: it publishes batches as Run does and, when nothing due is
// left, waits PollInterval and looks again, until ctx is within the reserve of its deadline (or done). A
// failed send does not end it: the failed rows wait for their backoff (see Options) and the others go on.
// It returns the number published and the error of its last look, if that failed. Without a deadline on
// ctx it drains once, as Run.
//
// The outbox-relay function runs it for most of its timeout on every scheduled firing, so that one run is
// always polling: writers leave their entries to it instead of sending them to SQS on the request's path.
func (r *Relay) Poll(ctx context.Context) (int, error) {
	if _, ok := ctx.Deadline(); !ok {
		return r.Run(ctx)
	}
	total, polls, failures := 0, 0, 0
	start := time.Now()
	var err error
	for {
		if dl, _ := ctx.Deadline(); time.Until(dl) < r.opts.Reserve || ctx.Err() != nil {
			break
		}
		var n int
		n, err = r.PublishPending(ctx, r.opts.Batch)
		total += n
		polls++
		if err != nil {
			failures++
			if failures == 1 || failures%100 == 0 { // a queue that stays down is not logged 5 times a second
				r.log.LogAttrs(ctx, slog.LevelWarn, "outbox relay: publish failed; the rows wait for their retry",
					slog.Int("failures", failures), slog.Any("error", err))
			}
		}
		if err == nil && n == r.opts.Batch {
			continue // more is due now
		}
		t := time.NewTimer(r.opts.PollInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	r.log.LogAttrs(ctx, level, "outbox relay", slog.Int("published", total), slog.Int("polls", polls),
		slog.Int("failed_polls", failures), slog.Duration("elapsed", time.Since(start)), slog.Any("error", err))
	return total, err
}
