// Package maintenance is the logic of the scheduled maintenance functions: cleanup (hourly) deletes what
// has expired across every tenant in bounded batches, and partition-maintenance (daily) keeps the monthly
// partitions of the time-partitioned tables ahead of time and drops those past retention.
//
// Both run as the role corral_maint (DATABASE_MAINTENANCE_URL), which does not bypass row-level security:
// it reaches across tenants only through the permissive `maintenance` policies the migrations give it on
// exactly the tables below. Each step has its own timeout, and a step that fails does not stop the
// others: Run attempts them all and returns every failure joined (errors.Join).
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Options; every knob of the scheduled jobs is one of these.
const (
	// DefaultBatchSize is how many rows one DELETE removes before the step commits and goes again.
	DefaultBatchSize = 1000
	// DefaultStepTimeout bounds each step (one table) of a run. Five cleanup steps fit the function's
	// 300-second Lambda timeout.
	DefaultStepTimeout = 50 * time.Second
	// DefaultAuditRetention is how long audit rows are kept (AUDIT_RETENTION's default, 90 days).
	DefaultAuditRetention = 90 * 24 * time.Hour
	// DefaultOutboxRetention is how long a published outbox row is kept, for inspection, after it was sent.
	DefaultOutboxRetention = 7 * 24 * time.Hour
	// DefaultProcessedMessageRetention is how long a consumer's dedupe record is kept: longer than SQS can
	// still deliver the message (4 days in the source queue, 14 in the dead-letter queue, then a redrive).
	DefaultProcessedMessageRetention = 30 * 24 * time.Hour
	// DefaultMonthsAhead is how many months past the current one get a partition in advance.
	DefaultMonthsAhead = 3
)

// Options are the knobs of both jobs. A zero field takes its default (the Default constants above).
type Options struct {
	// BatchSize is the most rows one DELETE removes (default DefaultBatchSize).
	BatchSize int
	// StepTimeout bounds each step (default DefaultStepTimeout).
	StepTimeout time.Duration
	// AuditRetention is how long audit rows, and monthly audit partitions, are kept (default
	// DefaultAuditRetention; the functions pass AUDIT_RETENTION).
	AuditRetention time.Duration
	// OutboxRetention is how long published outbox rows are kept (default DefaultOutboxRetention).
	OutboxRetention time.Duration
	// ProcessedMessageRetention is how long SQS dedupe records are kept (default
	// DefaultProcessedMessageRetention).
	ProcessedMessageRetention time.Duration
	// MonthsAhead is how many months after the current one get partitions (default DefaultMonthsAhead).
	MonthsAhead int
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.AuditRetention <= 0 {
		o.AuditRetention = DefaultAuditRetention
	}
	if o.OutboxRetention <= 0 {
		o.OutboxRetention = DefaultOutboxRetention
	}
	if o.ProcessedMessageRetention <= 0 {
		o.ProcessedMessageRetention = DefaultProcessedMessageRetention
	}
	if o.MonthsAhead <= 0 {
		o.MonthsAhead = DefaultMonthsAhead
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrNoMaintenanceDB is returned by the jobs when they have no corral_maint pool, which comes from
// DATABASE_MAINTENANCE_URL.
var ErrNoMaintenanceDB = errors.New("DATABASE_MAINTENANCE_URL is not set: the scheduled maintenance functions connect as the role corral_maint through it")

// Result is what one step did.
type Result struct {
	Step string
	// Rows is how many rows the step deleted (cleanup), or partitions it created and dropped.
	Rows int64
	// Skipped is true when the step's table does not exist (yet) in this database.
	Skipped bool
	// Err is the step's failure, nil on success.
	Err error
}

// runSteps runs each step under its own timeout, logs its outcome, and joins the failures, each wrapped
// with its step name.
func runSteps(ctx context.Context, log *slog.Logger, job string, timeout time.Duration, names []string,
	run func(ctx context.Context, i int) (Result, error)) ([]Result, error) {
	results := make([]Result, 0, len(names))
	var errs []error
	for i, name := range names {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		r, err := run(sctx, i)
		cancel()
		r.Step = name
		if err != nil {
			r.Err = fmt.Errorf("%s %s: %w", job, name, err)
			errs = append(errs, r.Err)
			log.ErrorContext(ctx, job+" step failed", "step", name, "rows", r.Rows, "error", err,
				"duration_ms", time.Since(start).Milliseconds())
		} else {
			log.InfoContext(ctx, job+" step done", "step", name, "rows", r.Rows, "skipped", r.Skipped,
				"duration_ms", time.Since(start).Milliseconds())
		}
		results = append(results, r)
	}
	return results, errors.Join(errs...)
}

// unprepared sends a statement without preparing it (pgx.QueryExecModeExec: one round trip, and no named
// statement left on the connection). The jobs here run each statement a few times an hour or a day: a
// prepared statement costs a round trip more on the first run after every cold start, and behind RDS Proxy
// it pins the session for nothing.
const unprepared = pgx.QueryExecModeExec

// timestamptzText is how the pipelined jobs send a timestamptz parameter as text: RFC 3339 in UTC, to the
// microsecond Postgres keeps.
const timestamptzText = "2006-01-02T15:04:05.999999Z07:00"

// existingTablesSQL returns which of the tables $1 exist.
const existingTablesSQL = `SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL`

// existingTables reports which of tables (schema-qualified) exist, in one statement, so a step for a table
// that a later migration adds is skipped rather than failed.
func existingTables(ctx context.Context, db *pgxpool.Pool, tables []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, existingTablesSQL, unprepared, tables)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	exist := make(map[string]bool, len(names))
	for _, n := range names {
		exist[n] = true
	}
	return exist, nil
}
