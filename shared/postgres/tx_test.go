package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
