package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Step is one deletion of the cleanup: rows of Table older than a cutoff, in bounded batches.
type Step struct {
	// Name names the step in logs, results and errors.
	Name string
	// Table is the schema-qualified table; the step is skipped when it does not exist.
	Table string
	// Delete deletes at most $2 rows whose age column is before $1 (timestamptz), skipping rows another
	// transaction holds: `DELETE ... WHERE ctid = ANY(ARRAY(SELECT ctid ... LIMIT $2 FOR UPDATE SKIP
	// LOCKED))`. The step repeats it until it deletes fewer than $2 rows.
	Delete string
	// Cutoff is the boundary for a run at now: rows before it are deleted.
	Cutoff func(now time.Time) time.Time
}

// The cleanup's statements. Each batch is its own statement, hence its own short transaction. ctid is
// unique only within one table, so the partitioned audit_events is matched by its primary key instead.
// The batches go oldest first (ORDER BY the age column), which also keeps them on the column's index
// when the statistics are stale: with outdated estimates of how many rows are past the cutoff, the
// planner chose a sequential scan of the whole table (idempotency_keys, 500,000 rows, none expired: 145 ms
// per batch instead of 0.5 ms, seen with autovacuum off).
const (
	deleteIdempotencyKeys = `
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	deleteAuditEvents = `
DELETE FROM audit_events WHERE (id, occurred_at) IN (
    SELECT id, occurred_at FROM audit_events WHERE occurred_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	deletePublishedOutbox = `
DELETE FROM outbox WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM outbox WHERE published_at < $1 ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	deleteProcessedMessages = `
DELETE FROM processed_messages WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM processed_messages WHERE processed_at < $1 ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	deleteExpiredSessions = `
DELETE FROM sessions WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	deleteExpiredChallenges = `
DELETE FROM auth_challenges WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM auth_challenges WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
)

// CleanupSteps lists the hourly cleanup's steps with the retentions of o (defaults filled in):
//   - idempotency-keys: keys whose expires_at has passed;
//   - audit-events: audit rows older than AuditRetention (whole months go by partition instead);
//   - outbox: outbox rows published more than OutboxRetention ago (skipped until the outbox exists);
//   - processed-messages: SQS dedupe records older than ProcessedMessageRetention;
//   - sessions: sessions whose expires_at has passed, their refresh tokens with them (ON DELETE CASCADE);
//   - auth-challenges: MFA login steps and email verification tokens whose expires_at has passed.
func CleanupSteps(o Options) []Step {
	o = o.withDefaults()
	before := func(d time.Duration) func(time.Time) time.Time {
		return func(now time.Time) time.Time { return now.Add(-d) }
	}
	return []Step{
		{Name: "idempotency-keys", Table: "public.idempotency_keys", Delete: deleteIdempotencyKeys, Cutoff: before(0)},
		{Name: "audit-events", Table: "public.audit_events", Delete: deleteAuditEvents, Cutoff: before(o.AuditRetention)},
		{Name: "outbox", Table: "public.outbox", Delete: deletePublishedOutbox, Cutoff: before(o.OutboxRetention)},
		{Name: "processed-messages", Table: "public.processed_messages", Delete: deleteProcessedMessages, Cutoff: before(o.ProcessedMessageRetention)},
		{Name: "sessions", Table: "public.sessions", Delete: deleteExpiredSessions, Cutoff: before(0)},
		{Name: "auth-challenges", Table: "public.auth_challenges", Delete: deleteExpiredChallenges, Cutoff: before(0)},
	}
}

// Cleanup is the hourly cleanup job.
type Cleanup struct {
	db    *pgxpool.Pool
	log   *slog.Logger
	opts  Options
	steps []Step
}

// NewCleanup returns the cleanup over db (a corral_maint pool; nil makes every Run fail with
// ErrNoMaintenanceDB) running steps, normally CleanupSteps(o).
func NewCleanup(db *pgxpool.Pool, log *slog.Logger, o Options, steps []Step) *Cleanup {
	return &Cleanup{db: db, log: log, opts: o.withDefaults(), steps: steps}
}

// Run attempts every step, each under Options.StepTimeout, and returns what each did. The error joins
// the failures of the steps that failed (each naming its step); the other steps have still run. A step
// whose table does not exist is skipped, not failed.
func (c *Cleanup) Run(ctx context.Context) ([]Result, error) {
	if c.db == nil {
		return nil, ErrNoMaintenanceDB
	}
	now := c.opts.Now()
	names := make([]string, len(c.steps))
	tables := make([]string, len(c.steps))
	for i, s := range c.steps {
		names[i], tables[i] = s.Name, s.Table
	}
	// Which tables exist, for every step in one round trip; when that fails, every step fails with it.
	tctx, cancel := context.WithTimeout(ctx, c.opts.StepTimeout)
	exist, existErr := existingTables(tctx, c.db, tables)
	cancel()
	return runSteps(ctx, c.log, "cleanup", c.opts.StepTimeout, names, func(ctx context.Context, i int) (Result, error) {
		if existErr != nil {
			return Result{}, existErr
		}
		if !exist[c.steps[i].Table] {
			return Result{Skipped: true}, nil
		}
		return c.step(ctx, c.steps[i], now)
	})
}

// step deletes s's expired rows, in batches, from its table (which exists).
func (c *Cleanup) step(ctx context.Context, s Step, now time.Time) (Result, error) {
	var r Result
	cutoff := s.Cutoff(now)
	for {
		tag, err := c.db.Exec(ctx, s.Delete, unprepared, cutoff, c.opts.BatchSize)
		if err != nil {
			return r, err
		}
		r.Rows += tag.RowsAffected()
		if tag.RowsAffected() < int64(c.opts.BatchSize) {
			return r, nil
		}
	}
}
