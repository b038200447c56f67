package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestRowLevelSecurityOnEveryTenantTable(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	tables := tenantTables(t, db.Owner, false)
	// The scan must see the tables we know about, partitions included, or it proves nothing.
	for _, want := range []string{"memberships", "profiles", "businesses", "business_members", "horses",
		"idempotency_keys", "audit_events", "audit_events_default"} {
		if !slices.Contains(tables, want) {
			t.Errorf("tenant tables %v lack %s", tables, want)
		}
	}
	var partitions int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass`).Scan(&partitions); err != nil {
		t.Fatal(err)
	}
	if partitions < 3 {
		t.Errorf("audit_events has %d partitions, want the default one plus this month and next", partitions)
	}

	const q = `
		SELECT c.relrowsecurity, c.relforcerowsecurity,
		       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd = '*' AND p.polpermissive
		               AND p.polqual IS NOT NULL AND p.polwithcheck IS NOT NULL)
		FROM pg_class c WHERE c.oid = to_regclass('public.' || quote_ident($1))`
	for _, table := range append(tables, "tenants", "users") {
		t.Run(table, func(t *testing.T) {
			var enabled, forced, policy bool
			if err := db.Owner.QueryRow(ctx, q, table).Scan(&enabled, &forced, &policy); err != nil {
				t.Fatal(err)
			}
			want := [3]bool{true, true, true}
			if diff := cmp.Diff(want, [3]bool{enabled, forced, policy}); diff != "" {
				t.Errorf("[enabled forced has-policy] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppRoleCannotBypassRowLevelSecurity(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	var super, bypass bool
	err := db.Owner.QueryRow(context.Background(),
		`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'corral_app'`).Scan(&super, &bypass)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Errorf("corral_app: superuser=%v bypassrls=%v, want neither", super, bypass)
	}

	// The App pool really runs as corral_app, and owns none of the tables (owners bypass RLS unless forced).
	var user string
	var owned int
	err = db.App.QueryRow(context.Background(), auth.Principal{}, postgres.ReadOnly,
		`SELECT current_user, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)`,
		nil, &user, &owned)
	if err != nil {
		t.Fatal(err)
	}
	if user != "corral_app" || owned != 0 {
		t.Errorf("App connects as %q owning %d tables, want corral_app owning none", user, owned)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	tables := tenantTables(t, db.Owner, true)

	// countRows returns, per table, how many rows p sees and how many of those are (not) A's.
	type seen struct{ Total, OfA, OfOthers, Tenantless int }
	countRows := func(t *testing.T, p auth.Principal) map[string]seen {
		t.Helper()
		got := map[string]seen{}
		err := db.App.InTx(ctx, p, func(tx pgx.Tx) error {
			for _, table := range tables {
				var s seen
				q := `SELECT count(*), count(*) FILTER (WHERE tenant_id = $1),
				             count(*) FILTER (WHERE tenant_id <> $1), count(*) FILTER (WHERE tenant_id IS NULL)
				      FROM ` + pgx.Identifier{table}.Sanitize()
				if err := tx.QueryRow(ctx, q, w.tenantA).Scan(&s.Total, &s.OfA, &s.OfOthers, &s.Tenantless); err != nil {
					return err
				}
				got[table] = s
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("tenant A sees only its rows", func(t *testing.T) {
		for table, s := range countRows(t, w.principalA) {
			if s.OfA == 0 {
				t.Errorf("%s: tenant A sees none of its rows: add a fixture row to arrange()", table)
			}
			if diff := cmp.Diff(seen{Total: s.OfA, OfA: s.OfA}, s); diff != "" {
				t.Errorf("%s (-want +got):\n%s", table, diff)
			}
		}
		var total int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM horses`).Scan(&total); err != nil || total < 2 {
			t.Fatalf("owner sees %d horses (err %v): the fixture is missing tenant B", total, err)
		}
	})

	t.Run("no tenant sees only tenantless rows", func(t *testing.T) {
		for table, s := range countRows(t, auth.Principal{}) {
			if s.OfA != 0 || s.OfOthers != 0 || s.Total != s.Tenantless {
				t.Errorf("%s: with no tenant set, saw %+v, want only tenantless rows", table, s)
			}
		}
	})

	t.Run("tenants and users", func(t *testing.T) {
		var tenants, users []string
		err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
			var err error
			if tenants, err = collect(ctx, tx, `SELECT id::text FROM tenants`); err != nil {
				return err
			}
			users, err = collect(ctx, tx, `SELECT id::text FROM users`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{w.tenantA}, tenants); diff != "" {
			t.Errorf("tenants (-want +got):\n%s", diff)
		}
		wantUsers := []string{w.userA, w.userA2}
		slices.Sort(wantUsers)
		slices.Sort(users)
		if diff := cmp.Diff(wantUsers, users); diff != "" {
			t.Errorf("users of tenant A (-want +got):\n%s", diff)
		}

		// Outside any tenant, a user sees only themself.
		var self []string
		err = db.App.InTx(ctx, auth.Principal{UserID: w.userB}, func(tx pgx.Tx) error {
			var err error
			self, err = collect(ctx, tx, `SELECT id::text FROM users`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{w.userB}, self); diff != "" {
			t.Errorf("users seen by B with no tenant (-want +got):\n%s", diff)
		}
	})

	t.Run("writes into another tenant are refused", func(t *testing.T) {
		tests := []struct {
			name string
			sql  string
			args []any
		}{
			{"tenant", `INSERT INTO tenants (name, slug) VALUES ('X', $1)`, []any{uuid.NewString()}},
			{"membership", `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'member')`, []any{w.tenantB, w.userA}},
			{"profile", `INSERT INTO profiles (tenant_id, user_id, display_name) VALUES ($1, $2, 'x')`, []any{w.tenantB, w.userA}},
			{"business", `INSERT INTO businesses (tenant_id, name, kind) VALUES ($1, 'x', 'shop')`, []any{w.tenantB}},
			{"business member", `INSERT INTO business_members (tenant_id, business_id, user_id, role) VALUES ($1, $2, $3, 'staff')`, []any{w.tenantB, w.businessB, w.userA}},
			{"horse", `INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, 'x', $2)`, []any{w.tenantB, w.userA}},
			{"horse moved to B", `UPDATE horses SET tenant_id = $1 WHERE id = $2`, []any{w.tenantB, w.horseA}},
			{"idempotency key", `INSERT INTO idempotency_keys (tenant_id, user_id, route, key, request_hash, scope) VALUES ($1, $2, 'r', 'k2', '\x00', idempotency_scope($1, $2, 'r', 'k2'))`, []any{w.tenantB, w.userA}},
			{"tenantless idempotency key", `INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, scope) VALUES (NULL, 'r', 'k3', '\x00', idempotency_scope(NULL, '', 'r', 'k3'))`, nil},
			{"audit event", `INSERT INTO audit_events (tenant_id, kind) VALUES ($1, 'x')`, []any{w.tenantB}},
			{"tenantless audit event", `INSERT INTO audit_events (tenant_id, kind) VALUES (NULL, 'x')`, nil},
			{"user other than self", `INSERT INTO users (email) VALUES ($1)`, []any{uuid.NewString() + "@example.com"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, tt.sql, tt.args...)
					return err
				})
				if got := sqlState(err); got != "42501" {
					t.Errorf("err = %v (SQLSTATE %q), want a row-level security violation (42501)", err, got)
				}
			})
		}
	})

	t.Run("another tenant's rows cannot be changed", func(t *testing.T) {
		var updated, deleted int64
		err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE horses SET name = 'stolen' WHERE id = $1`, w.horseB)
			if err != nil {
				return err
			}
			updated = tag.RowsAffected()
			tag, err = tx.Exec(ctx, `DELETE FROM businesses WHERE id = $1`, w.businessB)
			deleted = tag.RowsAffected()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if updated != 0 || deleted != 0 {
			t.Errorf("tenant A updated %d and deleted %d of tenant B's rows, want 0", updated, deleted)
		}
		var name string
		if err := db.Owner.QueryRow(ctx, `SELECT name FROM horses WHERE id = $1`, w.horseB).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != "Bravo" {
			t.Errorf("tenant B's horse is named %q, want Bravo", name)
		}
	})

	t.Run("audit partitions are not reachable directly", func(t *testing.T) {
		err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT count(*) FROM audit_events_default`)
			return err
		})
		if got := sqlState(err); got != "42501" {
			t.Errorf("reading a partition as corral_app: err = %v, want permission denied (42501)", err)
		}
	})

	t.Run("audit log is append-only", func(t *testing.T) {
		err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM audit_events`)
			return err
		})
		if got := sqlState(err); got != "42501" {
			t.Errorf("deleting audit events as corral_app: err = %v, want permission denied (42501)", err)
		}
	})
}

func TestIdempotencyKeyConflictsWithoutTenant(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const upsert = `
		INSERT INTO idempotency_keys (tenant_id, user_id, route, key, request_hash, scope)
		VALUES (nullif($1, '')::uuid, '', 'POST /signup', 'same-key', '\x01', idempotency_scope(nullif($1, '')::uuid, '', 'POST /signup', 'same-key'))
		ON CONFLICT (scope) DO NOTHING
		RETURNING true`
	anonymous := auth.Principal{}
	var inserted bool
	if err := db.App.QueryRow(ctx, anonymous, postgres.ReadWrite, upsert, []any{""}, &inserted); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	err := db.App.QueryRow(ctx, anonymous, postgres.ReadWrite, upsert, []any{""}, &inserted)
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("second insert of the same tenantless key: err = %v, want a conflict (no row returned)", err)
	}
	// The scope's digest keeps its parts apart: scopes whose columns only concatenate to the same text
	// are different records.
	const insert = `INSERT INTO idempotency_keys (tenant_id, user_id, route, key, request_hash, scope)
		VALUES (NULL, $1::text, $2::text, $3::text, '\x01', idempotency_scope(NULL, $1, $2, $3)) RETURNING true`
	for _, scope := range [][]any{{"u", "POST /x", "1 2"}, {"u", "POST /x 1", "2"}, {"u POST", "/x", "1 2"}, {"", "u POST /x", "1 2"}} {
		if err := db.App.QueryRow(ctx, anonymous, postgres.ReadWrite, insert, scope, &inserted); err != nil {
			t.Errorf("scope %q: %v", scope, err)
		}
	}
}

func collect(ctx context.Context, tx pgx.Tx, q string) ([]string, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
