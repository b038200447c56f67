package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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
//
// A run is usually a cold start's first work and finds little to delete, so its first round is one round
// trip (firstRound): which tables exist, and the first batch of every step, each batch its own implicit
// transaction, pipelined under one StepTimeout. A step that deleted a full batch then goes on alone, under
// its own timeout. When the round fails as a whole (a lost connection, its timeout), the steps it finished
// keep their results, the step whose batch it was waiting for fails with that error, and the others run
// alone. (Batches the server ran after the client gave up on the round still count as deleted rows in the
// database, not in the results.)
func (c *Cleanup) Run(ctx context.Context) ([]Result, error) {
	if c.db == nil {
		return nil, ErrNoMaintenanceDB
	}
	now := c.opts.Now()
	names := make([]string, len(c.steps))
	for i, s := range c.steps {
		names[i] = s.Name
	}
	tctx, cancel := context.WithTimeout(ctx, c.opts.StepTimeout)
	first := c.firstRound(tctx, now)
	cancel()
	return runSteps(ctx, c.log, "cleanup", c.opts.StepTimeout, names, func(ctx context.Context, i int) (Result, error) {
		s := c.steps[i]
		if first.existErr != nil {
			return Result{}, first.existErr // which tables exist is unknown: every step fails with it
		}
		if first.exist != nil && !first.exist[s.Table] {
			return Result{Skipped: true}, nil
		}
		switch {
		case i < first.done:
			b := first.batches[i]
			if b.err != nil || b.rows < int64(c.opts.BatchSize) {
				return Result{Rows: b.rows}, b.err
			}
			return c.step(ctx, s, now, b.rows)
		case i == first.done && first.exist != nil:
			return Result{}, first.err // the round failed waiting for this step's batch
		case first.exist == nil: // the round failed before it knew which tables exist
			exist, err := existingTables(ctx, c.db, []string{s.Table})
			if err != nil {
				return Result{}, err
			}
			if !exist[s.Table] {
				return Result{Skipped: true}, nil
			}
		}
		return c.step(ctx, s, now, 0)
	})
}

// round is what the first round of a run did: which tables exist (nil when that answer never came, or
// existErr), the first batch of steps [0, done), and err, what stopped the round before its end.
type round struct {
	exist    map[string]bool
	existErr error
	batches  []batch
	done     int
	err      error
}

// batch is one step's first batch: rows deleted, or its error.
type batch struct {
	rows int64
	err  error
}

// firstRound sends, in one pipeline, the existence check of the steps' tables and the first batch of
// every step, a Sync after each, so that each is its own implicit transaction and a failing one fails
// alone. The statements go unprepared (the unnamed statement), as everywhere in the jobs. The batch of a
// step whose table does not exist fails (undefined table) and Run ignores it.
func (c *Cleanup) firstRound(ctx context.Context, now time.Time) round {
	var r round
	conn, err := c.db.Acquire(ctx)
	if err != nil {
		r.err = err
		return r
	}
	defer conn.Release()
	tables := make([]string, len(c.steps))
	for i, s := range c.steps {
		tables[i] = s.Table
	}
	tableArray, err := conn.Conn().TypeMap().Encode(pgtype.TextArrayOID, pgtype.TextFormatCode, tables, nil)
	if err != nil {
		r.err = err
		return r
	}
	limit := []byte(strconv.Itoa(c.opts.BatchSize))
	p := conn.Conn().PgConn().StartPipeline(ctx)
	p.SendQueryParams(existingTablesSQL, [][]byte{tableArray}, []uint32{pgtype.TextArrayOID}, nil, nil)
	p.SendPipelineSync()
	for _, s := range c.steps {
		cutoff := []byte(s.Cutoff(now).UTC().Format(timestamptzText))
		p.SendQueryParams(s.Delete, [][]byte{cutoff, limit}, []uint32{pgtype.TimestamptzOID, pgtype.Int8OID}, nil, nil)
		p.SendPipelineSync()
	}
	fail := func(err error) round {
		r.err = err
		_ = p.Close()
		return r
	}
	if err := p.Flush(); err != nil {
		return fail(err)
	}
	exist := map[string]bool{}
	_, segErr, err := readSegment(p, func(rr *pgconn.ResultReader) {
		for rr.NextRow() {
			exist[string(rr.Values()[0])] = true
		}
	})
	if err != nil {
		return fail(err)
	}
	if r.exist, r.existErr = exist, segErr; segErr != nil {
		r.exist = nil
	}
	r.batches = make([]batch, len(c.steps))
	for i := range c.steps {
		rows, segErr, err := readSegment(p, nil)
		if err != nil {
			return fail(err)
		}
		r.batches[i], r.done = batch{rows: rows, err: segErr}, i+1
	}
	if err := p.Close(); err != nil {
		r.err = err
	}
	return r
}

// readSegment reads the next statement's result of p and the Sync after it. rows (when not nil) reads the
// result's rows. It returns the rows affected, the statement's own error (a *pgconn.PgError: the server
// skipped to the Sync), or err, any other failure, after which p is unusable.
func readSegment(p *pgconn.Pipeline, rows func(*pgconn.ResultReader)) (affected int64, stmtErr, err error) {
	res, err := p.GetResults()
	switch res := res.(type) {
	case *pgconn.ResultReader:
		if rows != nil {
			rows(res)
		}
		tag, cerr := res.Close()
		affected, err = tag.RowsAffected(), cerr
	case nil:
		if err == nil {
			return 0, nil, errors.New("pipeline: no result for a statement")
		}
	default:
		return 0, nil, fmt.Errorf("pipeline: unexpected %T for a statement", res)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		stmtErr, err = err, nil
	}
	if err != nil {
		return 0, nil, err
	}
	if res, err := p.GetResults(); err != nil {
		return 0, nil, err
	} else if _, ok := res.(*pgconn.PipelineSync); !ok {
		return 0, nil, fmt.Errorf("pipeline: unexpected %T for a Sync", res)
	}
	return affected, stmtErr, nil
}

// step deletes s's expired rows, in batches, from its table (which exists); deleted is what its first
// round already deleted (a full batch), 0 when it starts from scratch.
func (c *Cleanup) step(ctx context.Context, s Step, now time.Time, deleted int64) (Result, error) {
	r := Result{Rows: deleted}
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
