package maintenance_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func testLog(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func exec(t testing.TB, db *pgtest.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Owner.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("arrange %q: %v", strings.TrimSpace(q), err)
	}
}

// labels returns the sorted labels left in table (a column named label in the test's rows).
func labels(t testing.TB, db *pgtest.DB, q string) []string {
	t.Helper()
	rows, err := db.Owner.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

func tenants(t testing.TB, db *pgtest.DB) (a, b string) {
	t.Helper()
	err := db.Owner.QueryRow(context.Background(), `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ('a', 'a'), ('b', 'b') RETURNING id, slug)
SELECT (SELECT id::text FROM t WHERE slug = 'a'), (SELECT id::text FROM t WHERE slug = 'b')`).Scan(&a, &b)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func results(t testing.TB, rs []maintenance.Result) map[string]maintenance.Result {
	t.Helper()
	m := map[string]maintenance.Result{}
	for _, r := range rs {
		m[r.Step] = r
	}
	return m
}

// TestCleanupDeletesOnlyExpired arranges expired and live rows of two tenants and of no tenant in every
// cleaned table, runs the cleanup as corral_maint with batches of 2 (so each step loops), and checks that
// exactly the expired rows are gone.
func TestCleanupDeletesOnlyExpired(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a, b := tenants(t, db)

	for _, tenant := range []any{a, b, nil} {
		exec(t, db, `
INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, expires_at, scope) VALUES
    ($1, 'POST /x', 'expired-1', '\x00', now() - interval '1 hour', idempotency_scope($1, '', 'POST /x', 'expired-1')),
    ($1, 'POST /x', 'expired-2', '\x00', now() - interval '1 minute', idempotency_scope($1, '', 'POST /x', 'expired-2')),
    ($1, 'POST /x', 'live', '\x00', now() + interval '1 hour', idempotency_scope($1, '', 'POST /x', 'live'))`, tenant)
		exec(t, db, `
INSERT INTO audit_events (tenant_id, kind, occurred_at) VALUES
    ($1, 'old-1', now() - interval '100 days'),
    ($1, 'old-2', now() - interval '91 days'),
    ($1, 'recent', now() - interval '89 days'),
    ($1, 'now', now())`, tenant)
		exec(t, db, `
INSERT INTO processed_messages (tenant_id, consumer, message_id, processed_at) VALUES
    ($1, 'jobs', 'old', now() - interval '31 days'),
    ($1, 'jobs', 'recent', now() - interval '29 days')`, tenant)
	}
	var outbox bool
	if err := db.Owner.QueryRow(ctx, `SELECT to_regclass('public.outbox') IS NOT NULL`).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	if outbox {
		for _, tenant := range []any{a, b, nil} {
			exec(t, db, `
INSERT INTO outbox (tenant_id, queue, kind, payload, published_at) VALUES
    ($1, 'jobs', 'published-old', '{}', now() - interval '8 days'),
    ($1, 'jobs', 'published-recent', '{}', now() - interval '6 days'),
    ($1, 'jobs', 'pending-old', '{}', NULL)`, tenant)
			exec(t, db, `UPDATE outbox SET created_at = now() - interval '30 days' WHERE kind = 'pending-old'`)
		}
	}

	// Sessions (with a refresh token each) and auth challenges of a user in each tenant.
	for i, tenant := range []string{a, b} {
		var user string
		if err := db.Owner.QueryRow(ctx, `INSERT INTO users (email) VALUES ($1) RETURNING id::text`,
			fmt.Sprintf("u%d@example.com", i)).Scan(&user); err != nil {
			t.Fatal(err)
		}
		exec(t, db, `
WITH s AS (INSERT INTO sessions (tenant_id, user_id, user_agent, expires_at) VALUES
    ($1, $2, 'expired', now() - interval '1 minute'),
    ($1, $2, 'live', now() + interval '1 hour') RETURNING id, tenant_id, user_id, expires_at)
INSERT INTO refresh_tokens (token_hash, session_id, tenant_id, user_id, expires_at)
SELECT sha256(id::text::bytea), id, tenant_id, user_id, expires_at FROM s`, tenant, user)
		exec(t, db, `
INSERT INTO auth_challenges (token_hash, kind, user_id, detail, expires_at) VALUES
    (sha256(gen_random_uuid()::text::bytea), 'mfa', $1, '{"label":"expired"}', now() - interval '1 second'),
    (sha256(gen_random_uuid()::text::bytea), 'email_verification', $1, '{"label":"live"}', now() + interval '1 day')`, user)
	}

	c := maintenance.NewCleanup(db.Maint, testLog(t), maintenance.Options{BatchSize: 2},
		maintenance.CleanupSteps(maintenance.Options{AuditRetention: 90 * 24 * time.Hour}))
	rs, err := c.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := results(t, rs)

	tests := []struct {
		step     string
		query    string
		want     []string
		deleted  int64
		skipWhen bool
	}{
		{"idempotency-keys", `SELECT coalesce(tenant_id::text, 'none') || ' ' || key FROM idempotency_keys`,
			[]string{a + " live", b + " live", "none live"}, 6, false},
		{"audit-events", `SELECT coalesce(tenant_id::text, 'none') || ' ' || kind FROM audit_events`,
			[]string{a + " now", a + " recent", b + " now", b + " recent", "none now", "none recent"}, 6, false},
		{"processed-messages", `SELECT coalesce(tenant_id::text, 'none') || ' ' || message_id FROM processed_messages`,
			[]string{a + " recent", b + " recent", "none recent"}, 3, false},
		{"outbox", `SELECT coalesce(tenant_id::text, 'none') || ' ' || kind FROM outbox`,
			[]string{a + " pending-old", a + " published-recent", b + " pending-old", b + " published-recent", "none pending-old", "none published-recent"}, 3, !outbox},
		{"sessions", `SELECT s.tenant_id::text || ' ' || s.user_agent || ' ' || (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id) FROM sessions s`,
			[]string{a + " live 1", b + " live 1"}, 2, false},
		{"auth-challenges", `SELECT detail->>'label' FROM auth_challenges`, []string{"live", "live"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			r := got[tt.step]
			if tt.skipWhen {
				if !r.Skipped {
					t.Errorf("step %s on a database without its table: %+v, want skipped", tt.step, r)
				}
				return
			}
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, labels(t, db, tt.query)); diff != "" {
				t.Errorf("rows left (-want +got):\n%s", diff)
			}
			if r.Rows != tt.deleted || r.Skipped || r.Err != nil {
				t.Errorf("result %+v, want %d rows deleted", r, tt.deleted)
			}
		})
	}

	// A second run finds nothing left to delete.
	rs, err = c.Run(ctx)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	for _, r := range rs {
		if r.Rows != 0 {
			t.Errorf("second run: step %s deleted %d rows, want 0", r.Step, r.Rows)
		}
	}
}

// TestCleanupStepFailureDoesNotStopOthers runs a broken step and a step that overruns its timeout before
// a real one: the real one still deletes, and the error names both failures.
func TestCleanupStepFailureDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	exec(t, db, `INSERT INTO idempotency_keys (route, key, request_hash, expires_at, scope)
VALUES ('POST /x', 'k', '\x00', now() - interval '1 hour', idempotency_scope(NULL, '', 'POST /x', 'k'))`)

	real := maintenance.CleanupSteps(maintenance.Options{})[0]
	steps := []maintenance.Step{
		{Name: "broken", Table: "public.idempotency_keys", Delete: `DELETE FROM no_such_table WHERE $1::timestamptz IS NULL AND $2::int > 0`,
			Cutoff: func(now time.Time) time.Time { return now }},
		{Name: "slow", Table: "public.idempotency_keys", Delete: `SELECT pg_sleep(30) WHERE $1::timestamptz IS NOT NULL AND $2::int > 0`,
			Cutoff: func(now time.Time) time.Time { return now }},
		{Name: "missing", Table: "public.no_such_table", Delete: `broken SQL, its failure ignored`,
			Cutoff: func(now time.Time) time.Time { return now }},
		real,
	}
	c := maintenance.NewCleanup(db.Maint, testLog(t), maintenance.Options{StepTimeout: time.Second}, steps)
	rs, err := c.Run(context.Background())
	if err == nil {
		t.Fatal("Run with a broken and a slow step: err = nil")
	}
	for _, want := range []string{"cleanup broken", "cleanup slow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "cancel") {
		t.Errorf("error %q does not report the slow step's timeout", err)
	}
	got := results(t, rs)
	if r := got["missing"]; !r.Skipped || r.Err != nil {
		t.Errorf("missing table step: %+v, want skipped without error", r)
	}
	// The slow step's timeout ends the pipelined first round; the real step's batch may still have run in
	// it after the client gave up (its rows then go uncounted), or runs alone afterwards. Either way the
	// expired key is gone and the step did not fail.
	if r := got[real.Name]; r.Rows > 1 || r.Err != nil || r.Skipped {
		t.Errorf("real step after the failures: %+v, want no error and at most 1 row", r)
	}
	// (When the round's batch holds the row, the lone batch skips it, locked, and the round's commits
	// moments later: wait for that, not for ever.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := labels(t, db, `SELECT key FROM idempotency_keys`)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired keys left after the run: %q", left)
		}
	}
}

func TestRunWithoutMaintenanceDB(t *testing.T) {
	t.Parallel()
	log := testLog(t)
	runs := map[string]func() error{
		"cleanup": func() error {
			_, err := maintenance.NewCleanup(nil, log, maintenance.Options{}, maintenance.CleanupSteps(maintenance.Options{})).Run(context.Background())
			return err
		},
		"partitions": func() error {
			_, err := maintenance.NewPartitions(nil, log, maintenance.Options{}, maintenance.PartitionedTables(maintenance.Options{})).Run(context.Background())
			return err
		},
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			if err := run(); !errors.Is(err, maintenance.ErrNoMaintenanceDB) {
				t.Errorf("Run without a pool: err = %v, want ErrNoMaintenanceDB", err)
			}
		})
	}
}

// The jobs send their statements unprepared: a run leaves no prepared statement on its connection (one
// would cost a round trip more on every cold start's run, and pin the session behind RDS Proxy).
func TestJobsLeaveNoPreparedStatements(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	// One connection in pgx's default mode (statements prepared and cached), as the functions open it.
	pool, err := postgres.Open(ctx, db.MaintURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	o := maintenance.Options{}
	if _, err := maintenance.NewCleanup(pool, testLog(t), o, maintenance.CleanupSteps(o)).Run(ctx); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if _, err := maintenance.NewPartitions(pool, testLog(t), o, maintenance.PartitionedTables(o)).Run(ctx); err != nil {
		t.Fatalf("partitions: %v", err)
	}
	var prepared []string
	rows, err := pool.Query(ctx, `SELECT statement FROM pg_prepared_statements`, pgx.QueryExecModeSimpleProtocol)
	if err == nil {
		prepared, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(prepared) != 0 {
		t.Errorf("the jobs left %d prepared statements on the connection: %q", len(prepared), prepared)
	}
}
