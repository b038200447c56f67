package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/idempotency"
)

// Mode chooses the pool and access mode of a pipelined statement.
type Mode int

const (
	// ReadOnly runs on the read pool (the write pool when there is none) in a read-only transaction: a
	// write fails with SQLSTATE 25006.
	ReadOnly Mode = iota
	// ReadWrite runs on the write pool. Use it for a write that is one statement, such as
	// INSERT ... RETURNING or UPDATE ... RETURNING.
	ReadWrite
)

// errNilDest guards QueryRow against a call with nothing to scan into.
var errNilDest = errors.New("postgres: query row: no destination")

// authFlow is ReadWrite for the identity store (unexported: only its flows may see users, credentials and
// memberships across tenants): the statement that sets the principal also turns app.auth_flow on, as
// authFlowSQL does in its transactions, so a single-statement flow is one round trip too.
const authFlow Mode = ReadWrite + 1

// setPrincipalAuthFlowSQL is setPrincipalSQL that also turns app.auth_flow on.
const setPrincipalAuthFlowSQL = `SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true), set_config('app.auth_flow', 'on', true)`

// setPrincipalReadOnlySQL is setPrincipalSQL that also makes the implicit transaction read-only.
// transaction_read_only may always be switched on, even after the transaction's first snapshot.
const setPrincipalReadOnlySQL = `SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true), set_config('transaction_read_only', 'on', true)`

// QueryRow runs one statement for principal p in a single round trip and scans its first row into dest.
//
// The statement that sets the principal and the query are sent as one pgx.Batch. Under the extended
// protocol the batch ends in a single Sync, so both run in one implicit transaction: the transaction-local
// settings apply to the query and are gone afterwards, and a failing query leaves nothing written. This
// saves the BEGIN and COMMIT round trips of InTx (32-47% more throughput here) and is the way to run any
// single statement. Work that needs several statements to succeed or fail together belongs in InTx.
//
// QueryRow returns pgx.ErrNoRows unchanged when the query returns no row. Other errors are wrapped with
// %w (a *pgconn.PgError stays reachable through errors.As). Note that the server commits at the Sync,
// before the row is scanned: an error scanning into dest does not undo a write.
func (db *DB) QueryRow(ctx context.Context, p auth.Principal, mode Mode, sql string, args []any, dest ...any) error {
	return db.queryRow(ctx, p, mode, statement{sql: sql, args: args}, dest)
}

// QueryRowRecorded runs the single-statement write st as a ReadWrite QueryRow does, and when the request
// has a pending idempotency lease whose handler declared its response (idempotency.Expect), it runs
// st.WithRecord instead: the same write storing the request's finished idempotency record in the same
// statement (see RecordedWrite), so the record is written once, with the effect, and nothing is left to
// store afterwards. The record is written only if the statement returns a row. A key that already has a
// record fails the statement with an error wrapping idempotency.ErrKeyRecorded: nothing is written.
func (db *DB) QueryRowRecorded(ctx context.Context, p auth.Principal, st RecordedWrite, args []any, dest ...any) error {
	return db.queryRow(ctx, p, ReadWrite, statement{sql: st.SQL, args: args, recorded: &st}, dest)
}

func (db *DB) queryRow(ctx context.Context, p auth.Principal, mode Mode, st statement, dest []any) error {
	if len(dest) == 0 {
		return errNilDest
	}
	br, lease, err := db.send(ctx, p, mode, st)
	if err != nil {
		return err
	}
	err = br.QueryRow().Scan(dest...)
	closeErr := br.Close()
	switch {
	case lease.recording && (isLeaseConflict(err) || isLeaseConflict(closeErr)):
		lease.Conflict()
		return fmt.Errorf("postgres: query row: %w: %w", idempotency.ErrKeyRecorded, errors.Join(err, closeErr))
	case lease.recording:
		// The record is written only with a row: no row, no record.
		lease.Settle(err == nil && closeErr == nil)
	default:
		lease.Settle((err == nil || errors.Is(err, pgx.ErrNoRows)) && closeErr == nil)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if closeErr != nil {
			return fmt.Errorf("postgres: query row: %w", closeErr)
		}
		return pgx.ErrNoRows
	case err != nil:
		return fmt.Errorf("postgres: query row: %w", err)
	case closeErr != nil:
		return fmt.Errorf("postgres: query row: %w", closeErr)
	}
	return nil
}

// statement is what send sends after the principal: sql with args, or, when recorded is set and the
// request's lease may be recorded by it, recorded.WithRecord.
type statement struct {
	sql      string
	args     []any
	recorded *RecordedWrite
}

// heldLease is the pending lease a batch carries: as a lease row ahead of the statement, or (recording)
// as the finished record the statement itself writes.
type heldLease struct {
	*idempotency.Pending
	recording bool
}

// Settle settles the lease, if any.
func (l heldLease) Settle(committed bool) {
	if l.Pending != nil {
		l.Pending.Settle(committed)
	}
}

// Query runs one statement for principal p in a single round trip, as QueryRow does, and calls each once
// per result row, in order. Call rows.Scan inside each; do not keep rows after each returns. If each
// returns an error, Query stops and returns that error unchanged. Other errors are wrapped with %w. As
// with QueryRow, a write in a ReadWrite statement has been committed by the time each runs.
func (db *DB) Query(ctx context.Context, p auth.Principal, mode Mode, sql string, args []any, each func(pgx.Rows) error) error {
	br, lease, err := db.send(ctx, p, mode, statement{sql: sql, args: args})
	if err != nil {
		return err
	}
	err = readRows(br, each)
	closeErr := br.Close()
	lease.Settle(err == nil && closeErr == nil)
	if err == nil && closeErr != nil {
		err = fmt.Errorf("postgres: query: %w", closeErr)
	}
	return err
}

func readRows(br pgx.BatchResults, each func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("postgres: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: query: %w", err)
	}
	return nil
}

// send queues the principal statement and sql in one batch and consumes the principal statement's result,
// leaving the query's result next. The caller must Close the returned results, then Settle the returned
// lease (nil when the batch carries none) with whether the batch committed. On error there is nothing to
// close.
//
// A ReadWrite statement carries the request's pending idempotency lease when there is one for this
// database (see takeLease): the lease row is inserted between the principal and the statement, in the same
// implicit transaction, so it commits exactly when the statement does, at no extra round trip. It also
// carries the bookkeeping statements queued by ExecCombined at that moment, sent ahead of it in the same
// transaction (see the comment on maxCombined).
func (db *DB) send(ctx context.Context, p auth.Principal, mode Mode, st statement) (pgx.BatchResults, heldLease, error) {
	var set string
	switch mode {
	case ReadOnly:
		set = setPrincipalReadOnlySQL
	case ReadWrite:
		set = setPrincipalSQL
	case authFlow:
		set = setPrincipalAuthFlowSQL
	default:
		return nil, heldLease{}, fmt.Errorf("postgres: unknown mode %d", mode)
	}
	b := &pgx.Batch{}
	b.Queue(set, p.TenantID, p.UserID)
	var (
		carried []*combined
		conn    *pgxpool.Conn
		lease   heldLease
	)
	if mode != ReadOnly {
		// The request's own statements (and its record's arguments) are ready before it takes a write
		// connection: with a pool of two, the time a connection is held bounds the writes per second.
		lease = db.queueStatement(ctx, p, b, st)
		var err error
		if conn, err = db.write.Acquire(ctx); err != nil {
			lease.Settle(false)
			return nil, heldLease{}, fmt.Errorf("postgres: query: %w", err)
		}
		// The carried statements are taken once the connection is held, and go ahead of the request's.
		if carried = db.combine.take(); len(carried) > 0 {
			own := b.QueuedQueries
			b = &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 2*len(carried)+len(own))}
			queueCombined(b, carried)
			b.QueuedQueries = append(b.QueuedQueries, own...)
		}
	} else {
		b.Queue(st.sql, st.args...)
	}
	var br pgx.BatchResults
	if conn == nil {
		br = db.read.SendBatch(ctx, b)
	} else {
		r := &riding{conn: conn, pool: db.write, ctx: ctx, carried: carried, cancel: func() {}}
		bctx := ctx
		if len(carried) > 0 {
			// The carried statements belong to other requests, still waiting for them: the batch does not
			// end with this caller's cancellation or deadline (a client that went away), only with its own.
			bctx, r.cancel = carrierContext(ctx)
		}
		r.BatchResults = conn.SendBatch(bctx, b)
		if err := readCombined(r.BatchResults, carried); err != nil {
			// A carried statement failed: the statement's own did not run. Close sends the carried ones
			// again, each alone; then the statement goes again on its own.
			r.failed = true
			_ = r.Close()
			lease.Settle(false)
			return db.sendAlone(ctx, p, set, st)
		}
		br = r
	}
	return db.finishSend(br, lease)
}

// queueStatement queues a ReadWrite statement after the principal, with the request's pending
// idempotency lease if there is one for this database: the statement's recording variant when it has one
// and the handler declared its response, else the lease row ahead of the statement.
func (db *DB) queueStatement(ctx context.Context, p auth.Principal, b *pgx.Batch, st statement) heldLease {
	if st.recorded != nil {
		if l, exp := db.takeRecording(ctx, p); l != nil {
			args := append(st.args[:len(st.args):len(st.args)], recordArgs(l, exp)...)
			b.Queue(st.recorded.WithRecord, args...)
			return heldLease{Pending: l, recording: true}
		}
	}
	l := db.takeLease(ctx, p)
	if l != nil {
		b.Queue(leaseSQL, leaseArgs(l)...)
	}
	b.Queue(st.sql, st.args...)
	return heldLease{Pending: l}
}

// sendAlone is send of a write without carried statements; set is the statement that sets the principal.
func (db *DB) sendAlone(ctx context.Context, p auth.Principal, set string, st statement) (pgx.BatchResults, heldLease, error) {
	b := &pgx.Batch{}
	b.Queue(set, p.TenantID, p.UserID)
	lease := db.queueStatement(ctx, p, b, st)
	return db.finishSend(db.write.SendBatch(ctx, b), lease)
}

// finishSend reads the principal's and the lease row's results of br, leaving the statement's next.
func (db *DB) finishSend(br pgx.BatchResults, lease heldLease) (pgx.BatchResults, heldLease, error) {
	_, err := br.Exec()
	if err == nil && lease.Pending != nil && !lease.recording {
		if _, err = br.Exec(); isLeaseConflict(err) {
			lease.Conflict()
			err = fmt.Errorf("%w: %w", idempotency.ErrKeyRecorded, err)
		}
	}
	if err != nil {
		_ = br.Close()
		lease.Settle(false)
		return nil, heldLease{}, fmt.Errorf("postgres: query: %w", err)
	}
	return br, lease, nil
}
