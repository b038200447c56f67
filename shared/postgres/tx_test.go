package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// insertTenant is fn for InTx: it creates the principal's own tenant, which its policy allows.
func insertTenant(ctx context.Context, p auth.Principal) func(pgx.Tx) error {
	return func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, slug) VALUES ($1, 'T', $2)`, p.TenantID, "t-"+p.TenantID)
		return err
	}
}

func tenantExists(t testing.TB, db *pgtest.DB, id string) bool {
	t.Helper()
	var n int
	if err := db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM tenants WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestInTx(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	errBoom := errors.New("boom")

	tests := []struct {
		name      string
		after     func(fn func(pgx.Tx) error) func(pgx.Tx) error
		wantErr   error
		wantPanic any
		wantRow   bool
	}{
		{"commits", func(fn func(pgx.Tx) error) func(pgx.Tx) error { return fn }, nil, nil, true},
		{"rolls back on error", func(fn func(pgx.Tx) error) func(pgx.Tx) error {
			return func(tx pgx.Tx) error {
				if err := fn(tx); err != nil {
					return err
				}
				return errBoom
			}
		}, errBoom, nil, false},
		{"rolls back on panic", func(fn func(pgx.Tx) error) func(pgx.Tx) error {
			return func(tx pgx.Tx) error {
				if err := fn(tx); err != nil {
					return err
				}
				panic("kaboom")
			}
		}, nil, "kaboom", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}
			var err error
			recovered := func() (r any) {
				defer func() { r = recover() }()
				err = db.App.InTx(ctx, p, tt.after(insertTenant(ctx, p)))
				return nil
			}()
			if recovered != tt.wantPanic {
				t.Errorf("panic = %v, want %v", recovered, tt.wantPanic)
			}
			if err != tt.wantErr { // returned unchanged, not merely wrapped
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := tenantExists(t, db, p.TenantID); got != tt.wantRow {
				t.Errorf("tenant row exists = %v, want %v", got, tt.wantRow)
			}
		})
	}

	t.Run("fn sees the principal", func(t *testing.T) {
		t.Parallel()
		p := auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}
		var tenant, user string
		err := db.App.InTx(ctx, p, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT current_setting('app.tenant_id'), current_setting('app.user_id')`).Scan(&tenant, &user)
		})
		if err != nil {
			t.Fatal(err)
		}
		if tenant != p.TenantID || user != p.UserID {
			t.Errorf("inside InTx: tenant %q user %q, want %q %q", tenant, user, p.TenantID, p.UserID)
		}
	})

	t.Run("ReadTx refuses writes", func(t *testing.T) {
		t.Parallel()
		p := auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}
		err := db.App.ReadTx(ctx, p, insertTenant(ctx, p))
		if got := sqlState(err); got != "25006" {
			t.Errorf("write in ReadTx: err = %v, want read_only_sql_transaction (25006)", err)
		}
		if tenantExists(t, db, p.TenantID) {
			t.Error("ReadTx wrote a row")
		}
	})
}

func TestBeginWithPrincipal(t *testing.T) {
	t.Parallel()
	const tenant, user = "0b5e8a8e-7d3c-4a51-9c55-1f0c2b7e9a10", "7f1d2c3b-4a5e-4f60-8a71-92b3c4d5e6f7"
	tests := []struct {
		name     string
		opts     pgx.TxOptions
		p        auth.Principal
		authFlow bool
		want     string
	}{
		{"read write", pgx.TxOptions{AccessMode: pgx.ReadWrite}, auth.Principal{TenantID: tenant, UserID: user}, false,
			"BEGIN read write; SELECT set_config('app.tenant_id', '" + tenant + "', true), set_config('app.user_id', '" + user + "', true)"},
		{"every mode", pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable}, auth.Principal{TenantID: tenant, UserID: user}, false,
			"BEGIN ISOLATION LEVEL serializable read only deferrable; SELECT set_config('app.tenant_id', '" + tenant + "', true), set_config('app.user_id', '" + user + "', true)"},
		{"no principal", pgx.TxOptions{}, auth.Principal{}, false,
			"BEGIN; SELECT set_config('app.tenant_id', '', true), set_config('app.user_id', '', true)"},
		{"auth flow", pgx.TxOptions{AccessMode: pgx.ReadWrite}, auth.Principal{UserID: user}, true,
			"BEGIN read write; SELECT set_config('app.tenant_id', '', true), set_config('app.user_id', '" + user + "', true), set_config('app.auth_flow', 'on', true)"},
		{"auth flow, a quote", pgx.TxOptions{}, auth.Principal{TenantID: "x'"}, true, ""},
		{"a quote", pgx.TxOptions{}, auth.Principal{TenantID: "x', true), set_config('role', 'postgres", UserID: user}, false, ""},
		{"a backslash", pgx.TxOptions{}, auth.Principal{TenantID: tenant, UserID: `a\`}, false, ""},
		{"a space", pgx.TxOptions{}, auth.Principal{TenantID: "a b", UserID: user}, false, ""},
		{"not ASCII", pgx.TxOptions{}, auth.Principal{TenantID: tenant, UserID: "ü"}, false, ""},
	}
	for _, tt := range tests {
		if got := postgres.BeginWithPrincipal(tt.opts, tt.p, tt.authFlow); got != tt.want {
			t.Errorf("%s: got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// queryLog records the SQL of every statement a connection runs outside a batch (BEGIN, Exec, Query,
// COMMIT), in order.
type queryLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.sql = append(l.sql, d.SQL)
	l.mu.Unlock()
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *queryLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql = nil
	return out
}

// TestTxPrincipalInBegin checks how a transaction gets its principal: a UUID principal is set by the
// statement that begins the transaction (one round trip, nothing prepared), any other principal by the
// parameterised statement after it; either way the transaction sees exactly the principal's values, in
// its access mode.
func TestTxPrincipalInBegin(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(tdb.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	cfg.ConnConfig.Tracer = log
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := postgres.New(pool, nil)

	const see = `SELECT current_setting('app.tenant_id'), current_setting('app.user_id'), current_setting('transaction_read_only'), coalesce(current_setting('app.auth_flow', true), '')`
	tests := []struct {
		name      string
		p         auth.Principal
		run       func(context.Context, auth.Principal, func(pgx.Tx) error) error
		read      bool
		authFlow  bool
		wantBegin string // prefix of the first statement
	}{
		{"uuid, InTx", auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}, db.InTx, false, false, "BEGIN read write; SELECT set_config("},
		{"uuid, ReadTx", auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}, db.ReadTx, true, false, "BEGIN read only; SELECT set_config("},
		{"uuid, auth flow", auth.Principal{UserID: uuid.NewString()}, db.InAuthTx, false, true, "BEGIN read write; SELECT set_config("},
		{"not a uuid, InTx", auth.Principal{TenantID: "o'brien', true); --", UserID: `a\b ü`}, db.InTx, false, false, "begin"},
		{"not a uuid, ReadTx", auth.Principal{TenantID: "o'brien", UserID: "x y"}, db.ReadTx, true, false, "begin"},
		{"not a uuid, auth flow", auth.Principal{UserID: "x y"}, db.InAuthTx, false, true, "begin"},
	}
	for _, tt := range tests { // sequential: one connection, one log
		var tenant, user, readOnly, authFlow string
		if err := tt.run(ctx, tt.p, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, see).Scan(&tenant, &user, &readOnly, &authFlow)
		}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tenant != tt.p.TenantID || user != tt.p.UserID {
			t.Errorf("%s: the transaction saw tenant %q user %q, want %q %q", tt.name, tenant, user, tt.p.TenantID, tt.p.UserID)
		}
		if want := map[bool]string{true: "on", false: "off"}[tt.read]; readOnly != want {
			t.Errorf("%s: transaction_read_only = %s, want %s", tt.name, readOnly, want)
		}
		// The flag is transaction-local: "" (or "off") outside the identity store's transactions.
		if on := authFlow == "on"; on != tt.authFlow {
			t.Errorf("%s: app.auth_flow = %q, want on: %v", tt.name, authFlow, tt.authFlow)
		}
		sql := log.take()
		if len(sql) != 3 || !strings.HasPrefix(sql[0], tt.wantBegin) || sql[1] != see || sql[2] != "commit" {
			t.Errorf("%s: statements outside batches = %q, want [%s..., the query, commit]", tt.name, sql, tt.wantBegin)
		}
	}
}

func TestInTxCancelledContext(t *testing.T) {
	t.Parallel()
	// No server is needed: a cancelled context must stop InTx before it reaches one.
	pool, err := postgres.Open(context.Background(), "postgres://corral_app@127.0.0.1:1/corral?sslmode=disable", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := postgres.New(pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err = db.InTx(ctx, auth.Principal{}, func(pgx.Tx) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if called {
		t.Error("fn ran under a cancelled context")
	}
}

// TestPrincipalDoesNotLeak runs every entry point on a pool of one connection, then asks that same
// connection, outside any of them, what tenant it has: the setting must be gone (the empty
// string once a transaction-local value has ended; it would be the tenant if a session-level SET had been used).
func TestPrincipalDoesNotLeak(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, tdb.AppURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := postgres.New(pool, nil)
	p := auth.Principal{TenantID: uuid.NewString(), UserID: uuid.NewString()}

	const probe = `SELECT pg_backend_pid(), coalesce(current_setting('app.tenant_id', true), '<unset>'), coalesce(current_setting('app.user_id', true), '<unset>')`
	uses := []struct {
		name string
		use  func() (pid int32, err error)
	}{
		{"InTx", func() (pid int32, err error) {
			err = db.InTx(ctx, p, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
			})
			return pid, err
		}},
		{"ReadTx", func() (pid int32, err error) {
			err = db.ReadTx(ctx, p, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
			})
			return pid, err
		}},
		{"InTx failing", func() (pid int32, err error) {
			_ = db.InTx(ctx, p, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					return err
				}
				return errors.New("fail")
			})
			return pid, nil
		}},
		{"QueryRow", func() (pid int32, err error) {
			err = db.QueryRow(ctx, p, postgres.ReadWrite, `SELECT pg_backend_pid()`, nil, &pid)
			return pid, err
		}},
		{"Query", func() (pid int32, err error) {
			err = db.Query(ctx, p, postgres.ReadOnly, `SELECT pg_backend_pid()`, nil, func(r pgx.Rows) error { return r.Scan(&pid) })
			return pid, err
		}},
	}
	for _, u := range uses { // sequential: they share the one connection
		t.Run(u.name, func(t *testing.T) {
			pid, err := u.use()
			if err != nil {
				t.Fatal(err)
			}
			var afterPID int32
			var tenant, user string
			if err := pool.QueryRow(ctx, probe).Scan(&afterPID, &tenant, &user); err != nil {
				t.Fatal(err)
			}
			if afterPID != pid {
				t.Fatalf("probe ran on backend %d, the work on %d: not the same connection", afterPID, pid)
			}
			if tenant != "" || user != "" {
				t.Errorf("after %s the connection still has tenant %q user %q, want both ''", u.name, tenant, user)
			}
		})
	}
}
