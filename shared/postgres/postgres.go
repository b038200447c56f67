// Package postgres is the PostgreSQL adapter: it opens pgx pools sized for Lambda, runs work for a
// principal inside transactions whose row-level-security settings are transaction-local, offers
// one-round-trip pipelined reads and single-statement writes, and applies the embedded migrations.
//
// Tenant isolation is enforced by the database, not by query text: every tenant-owned table has a policy
// comparing tenant_id with current_setting('app.tenant_id'), and every entry point here sets that value
// (and app.user_id) with set_config(..., true) as its first statement, so it lasts for exactly one
// transaction and can never leak to the next user of a pooled connection. The pools must connect as the
// application role (corral_app), which does not bypass row-level security.
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/idempotency"
)

// Pool settings for Lambda. One execution environment serves one request at a time and may be frozen
// for minutes between requests, so idle connections are dropped quickly and none are kept warm.
const (
	maxConnIdleTime   = 30 * time.Second
	maxConnLifetime   = 30 * time.Minute
	healthCheckPeriod = 15 * time.Second
	rollbackTimeout   = 5 * time.Second
)

// Open returns a pool for the database at url with at most maxConns connections. It makes no round trip:
// connections are opened on first use, so a cold start does not wait for the database, and a wrong host
// or password surfaces on the first query instead. MinConns is 0, idle connections close after 30s, and
// the pool checks its connections every 15s.
//
// The pool keeps pgx's default query mode, QueryExecModeCacheStatement: each statement is prepared once
// per connection and then executed by name (worth 37-48% throughput here). That is the trade-off with
// connection poolers: RDS Proxy pins a client to its server connection once prepared statements are used,
// which defeats the proxy, so behind RDS Proxy add default_query_exec_mode=exec (or describe_exec) to the
// URL. PgBouncer 1.21+ with max_prepared_statements set keeps prepared statements working in
// transaction pooling mode, and the default mode can stay.
//
// While DB.Warm opens a pool's first connection, the pool's other acquisitions wait for it instead of
// dialling another (see Warm).
//
// Open returns an error, wrapped with %w, when url cannot be parsed or maxConns is below 1. The error
// never contains the password.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	if maxConns < 1 {
		return nil, fmt.Errorf("postgres: open: maxConns must be at least 1, got %d", maxConns)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cfg.MaxConns = maxConns
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = maxConnIdleTime
	cfg.MaxConnLifetime = maxConnLifetime
	cfg.HealthCheckPeriod = healthCheckPeriod
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "corral"
	}
	cfg.ConnConfig.Tracer = &warmGate{}
	cfg.AfterConnect = scanTimesInUTC
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return pool, nil
}

// scanTimesInUTC makes a connection return timestamptz values in UTC, whatever the process's local time
// zone: the API writes times in UTC (RFC 3339 with Z), as the statements that render JSON in SQL do (the
// outbox payloads, the recorded idempotency responses). It costs no round trip.
func scanTimesInUTC(_ context.Context, c *pgx.Conn) error {
	c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
	return nil
}

// DB runs work for a principal against a write pool and an optional read pool (a replica). It is safe for
// concurrent use. DB does not own the pools: close them yourself.
type DB struct {
	write   *pgxpool.Pool
	read    *pgxpool.Pool
	combine *combiner // ExecCombined's queue, on the write pool
}

// New returns a DB over the given pools. read may be nil, in which case reads use write.
func New(write, read *pgxpool.Pool) *DB {
	if read == nil {
		read = write
	}
	return &DB{write: write, read: read, combine: newCombiner(write)}
}

// setPrincipalSQL makes the principal visible to the row-level-security policies for the current
// transaction only (is_local = true). An empty TenantID or UserID sets the empty string, which the policies
// read as "none": no tenant row is visible.
const setPrincipalSQL = `SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)`

// beginWithPrincipal returns the statement that begins a transaction with opts's isolation, access and
// deferrable modes and sets p in it as setPrincipalSQL does, as one simple-protocol query (a single round
// trip, nothing to prepare). The tenant and user ids are written into it as literals, so it does so only
// when both are made of letters, digits and hyphens (a UUID, or empty): such a literal means the same under
// any server setting and cannot end the string. For any other value it returns "" and the caller sets the
// principal with the parameterised setPrincipalSQL. With authFlow it also turns app.auth_flow on for the
// transaction, as authFlowSQL does.
func beginWithPrincipal(opts pgx.TxOptions, p auth.Principal, authFlow bool) string {
	if !plainID(p.TenantID) || !plainID(p.UserID) {
		return ""
	}
	var b strings.Builder
	b.Grow(160)
	b.WriteString("BEGIN")
	if opts.IsoLevel != "" {
		b.WriteString(" ISOLATION LEVEL ")
		b.WriteString(string(opts.IsoLevel))
	}
	if opts.AccessMode != "" {
		b.WriteString(" ")
		b.WriteString(string(opts.AccessMode))
	}
	if opts.DeferrableMode != "" {
		b.WriteString(" ")
		b.WriteString(string(opts.DeferrableMode))
	}
	b.WriteString("; SELECT set_config('app.tenant_id', '")
	b.WriteString(p.TenantID)
	b.WriteString("', true), set_config('app.user_id', '")
	b.WriteString(p.UserID)
	b.WriteString("', true)")
	if authFlow {
		b.WriteString(", set_config('app.auth_flow', 'on', true)")
	}
	return b.String()
}

// plainID reports whether s holds only ASCII letters, digits and hyphens.
func plainID(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// InTx runs fn inside a read-write transaction on the write pool for principal p, and commits when fn
// returns nil. The transaction's first statement sets app.tenant_id and app.user_id transaction-locally,
// so they never outlive it. If fn returns an error, the transaction is rolled back and that error is
// returned unchanged (errors.Is and errors.As see the caller's own error). If fn panics, the transaction
// is rolled back and the panic continues. Failures to begin, set the principal or commit are returned
// wrapped with %w; a failed commit means nothing was written.
func (db *DB) InTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error {
	return db.runTx(ctx, db.write, pgx.TxOptions{AccessMode: pgx.ReadWrite}, p, false, fn)
}

// inAuthTx is InTx for the identity store's sign-in, refresh and sign-up flows: the transaction also turns
// app.auth_flow on (authFlowSQL), in the same round trip that sets the principal.
func (db *DB) inAuthTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error {
	return db.runTx(ctx, db.write, pgx.TxOptions{AccessMode: pgx.ReadWrite}, p, true, fn)
}

// ReadTx is InTx for reads: it runs fn inside a READ ONLY transaction on the read pool (the write pool
// when there is none). A write inside fn fails with SQLSTATE 25006 (read_only_sql_transaction). Errors
// follow InTx's contract.
func (db *DB) ReadTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error {
	return db.runTx(ctx, db.read, pgx.TxOptions{AccessMode: pgx.ReadOnly}, p, false, fn)
}

func (db *DB) runTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, p auth.Principal, authFlow bool, fn func(tx pgx.Tx) error) (err error) {
	// The principal goes into the statement that begins the transaction when it can be written as
	// literals (see beginWithPrincipal): one round trip instead of BEGIN and then the parameterised
	// setPrincipalSQL (two on a connection that has not prepared it yet).
	inline := opts
	inline.BeginQuery = beginWithPrincipal(opts, p, authFlow)
	tx, err := pool.BeginTx(ctx, inline)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	var lease *idempotency.Pending
	committed := false
	defer func() {
		if committed {
			return
		}
		lease.Settle(false)
		// Roll back even when ctx is already cancelled, so the connection goes back to the pool clean
		// (pgx closes the connection if the rollback itself fails).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()

	// A write transaction carries the request's pending idempotency lease (see send), inserted in the
	// same round trip as the principal when the principal could not be set by the BEGIN.
	if opts.AccessMode == pgx.ReadWrite {
		lease = db.takeLease(ctx, p)
	}
	b := &pgx.Batch{}
	if inline.BeginQuery == "" {
		b.Queue(setPrincipalSQL, p.TenantID, p.UserID)
		if authFlow {
			b.Queue(authFlowSQL)
		}
	}
	if lease != nil {
		b.Queue(leaseSQL, leaseArgs(lease)...)
	}
	if b.Len() > 0 {
		br := tx.SendBatch(ctx, b)
		for i := range b.Len() {
			if _, err = br.Exec(); err != nil {
				if lease != nil && i == b.Len()-1 && isLeaseConflict(err) {
					lease.Conflict()
					err = fmt.Errorf("%w: %w", idempotency.ErrKeyRecorded, err)
				}
				break
			}
		}
		if closeErr := br.Close(); err == nil {
			err = closeErr
		}
		if err != nil {
			return fmt.Errorf("postgres: set principal: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	committed = true
	lease.Settle(true)
	return nil
}
