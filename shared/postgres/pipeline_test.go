package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// TestPipelineIsOneTransaction proves what QueryRow relies on: the set_config statement and the query,
// sent as one batch, share one implicit transaction. The query sees the transaction-local settings
// (it could not if they ran in separate transactions), and the same connection no longer has them after.
func TestPipelineIsOneTransaction(t *testing.T) {
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

	// AuthFlow (the identity store's mode) also turns app.auth_flow on, for that statement only.
	for _, mode := range []postgres.Mode{postgres.ReadOnly, postgres.ReadWrite, postgres.AuthFlow} {
		type state struct {
			PID          int32
			Tenant, User string
			ReadOnly     string
			AuthFlow     string
		}
		const q = `SELECT pg_backend_pid(), coalesce(current_setting('app.tenant_id', true), '<unset>'),
		                  coalesce(current_setting('app.user_id', true), '<unset>'), current_setting('transaction_read_only'),
		                  coalesce(current_setting('app.auth_flow', true), '')`
		var in, after state
		if err := db.QueryRowMode(ctx, p, mode, q, nil, &in.PID, &in.Tenant, &in.User, &in.ReadOnly, &in.AuthFlow); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, q).Scan(&after.PID, &after.Tenant, &after.User, &after.ReadOnly, &after.AuthFlow); err != nil {
			t.Fatal(err)
		}
		wantRO := map[postgres.Mode]string{postgres.ReadOnly: "on", postgres.ReadWrite: "off", postgres.AuthFlow: "off"}[mode]
		wantFlow := map[postgres.Mode]string{postgres.AuthFlow: "on"}[mode]
		if diff := cmp.Diff(state{in.PID, p.TenantID, p.UserID, wantRO, wantFlow}, in); diff != "" {
			t.Errorf("mode %d, inside the pipeline (-want +got):\n%s", mode, diff)
		}
		if diff := cmp.Diff(state{in.PID, "", "", "off", ""}, after); diff != "" {
			t.Errorf("mode %d, next use of the same connection (-want +got):\n%s", mode, diff)
		}
	}
}

func TestQueryRow(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()

	const insertHorse = `INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, $2, $3) RETURNING id::text`
	horseCount := func(t *testing.T, name string) int {
		t.Helper()
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM horses WHERE name = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("write in one statement", func(t *testing.T) {
		var id string
		err := db.App.QueryRow(ctx, w.principalA, postgres.ReadWrite, insertHorse, []any{w.tenantA, "Charlie", w.userA}, &id)
		if err != nil {
			t.Fatal(err)
		}
		var tenant string
		if err := db.Owner.QueryRow(ctx, `SELECT tenant_id::text FROM horses WHERE id = $1`, id).Scan(&tenant); err != nil {
			t.Fatalf("inserted horse %s not found: %v", id, err)
		}
		if tenant != w.tenantA {
			t.Errorf("horse tenant = %s, want %s", tenant, w.tenantA)
		}
	})

	tests := []struct {
		name      string
		mode      postgres.Mode
		sql       string
		args      []any
		wantState string
	}{
		{"failing statement writes nothing", postgres.ReadWrite,
			`WITH ins AS (INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, $2, $3) RETURNING id)
			 SELECT id::text, 1 / 0 FROM ins`, []any{w.tenantA, "Delta", w.userA}, "22012"},
		{"policy violation writes nothing", postgres.ReadWrite, insertHorse, []any{w.tenantB, "Echo", w.userA}, "42501"},
		{"read-only mode refuses writes", postgres.ReadOnly, insertHorse, []any{w.tenantA, "Foxtrot", w.userA}, "25006"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id string
			var one int
			dest := []any{&id}
			if tt.wantState == "22012" {
				dest = append(dest, &one)
			}
			err := db.App.QueryRow(ctx, w.principalA, tt.mode, tt.sql, tt.args, dest...)
			if got := sqlState(err); got != tt.wantState {
				t.Errorf("err = %v (SQLSTATE %q), want SQLSTATE %s", err, got, tt.wantState)
			}
			if n := horseCount(t, tt.args[1].(string)); n != 0 {
				t.Errorf("%d horses named %v were written, want 0", n, tt.args[1])
			}
		})
	}

	t.Run("no row is pgx.ErrNoRows unchanged", func(t *testing.T) {
		var id string
		err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, `SELECT id::text FROM horses WHERE id = $1`, []any{w.horseB}, &id)
		if err != pgx.ErrNoRows {
			t.Errorf("reading tenant B's horse as A: err = %v, want pgx.ErrNoRows", err)
		}
	})

	t.Run("bad calls", func(t *testing.T) {
		var x int
		if err := db.App.QueryRow(ctx, w.principalA, postgres.Mode(7), `SELECT 1`, nil, &x); err == nil {
			t.Error("unknown mode: err = nil")
		}
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, `SELECT 1`, nil); err == nil {
			t.Error("no destination: err = nil")
		}
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, `SELEKT 1`, nil, &x); sqlState(err) != "42601" {
			t.Errorf("syntax error: err = %v, want SQLSTATE 42601", err)
		}
	})
}

func TestQuery(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, 'Golf', $2), ($1, 'Hotel', $2)`, w.tenantA, w.userA); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT name FROM horses ORDER BY name`

	t.Run("each row of the tenant, in order", func(t *testing.T) {
		var names []string
		err := db.App.Query(ctx, w.principalA, postgres.ReadOnly, q, nil, func(r pgx.Rows) error {
			var n string
			if err := r.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"Alpha", "Golf", "Hotel"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})

	t.Run("error from each stops and is returned unchanged", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := db.App.Query(ctx, w.principalA, postgres.ReadOnly, q, nil, func(pgx.Rows) error { calls++; return stop })
		if err != stop {
			t.Errorf("err = %v, want the error from each", err)
		}
		if calls != 1 {
			t.Errorf("each called %d times, want 1", calls)
		}
		// The connection went back to the pool in a usable state.
		var one int
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, `SELECT 1`, nil, &one); err != nil || one != 1 {
			t.Errorf("next query: %d, %v", one, err)
		}
	})

	t.Run("statement error is a PostgreSQL error", func(t *testing.T) {
		err := db.App.Query(ctx, w.principalA, postgres.ReadOnly, `SELECT 1 / 0`, nil, func(pgx.Rows) error { return nil })
		if got := sqlState(err); got != "22012" {
			t.Errorf("err = %v, want SQLSTATE 22012", err)
		}
	})
}
