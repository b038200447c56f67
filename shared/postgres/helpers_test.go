package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
)

func addr[T any](v T) *T { return &v }

// world is two tenants with one row of every tenant-owned table each, plus tenantless rows where the
// schema allows them, arranged through the owner pool (which bypasses row-level security).
type world struct {
	tenantA, tenantB       string
	userA, userA2, userB   string
	horseA, horseB         string
	businessA, businessB   string
	principalA, principalB auth.Principal
}

// memberA2 is world's plain member of tenant A: no right to manage the tenant.
func (w world) memberA2() auth.Principal {
	return auth.Principal{TenantID: w.tenantA, UserID: w.userA2, Roles: []string{auth.RoleMember}}
}

func arrange(t testing.TB, owner *pgxpool.Pool) world {
	t.Helper()
	w := world{
		tenantA: uuid.NewString(), tenantB: uuid.NewString(),
		userA: uuid.NewString(), userA2: uuid.NewString(), userB: uuid.NewString(),
		horseA: uuid.NewString(), horseB: uuid.NewString(),
		businessA: uuid.NewString(), businessB: uuid.NewString(),
	}
	w.principalA = auth.Principal{TenantID: w.tenantA, UserID: w.userA, Roles: []string{auth.RoleOwner}}
	w.principalB = auth.Principal{TenantID: w.tenantB, UserID: w.userB, Roles: []string{auth.RoleOwner}}

	steps := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO tenants (id, name, slug) VALUES ($1, 'Tenant A', $2), ($3, 'Tenant B', $4)`,
			[]any{w.tenantA, "a-" + w.tenantA, w.tenantB, "b-" + w.tenantB}},
		{`INSERT INTO users (id, email, display_name) VALUES ($1, $2, 'A'), ($3, $4, 'A2'), ($5, $6, 'B')`,
			[]any{w.userA, w.userA + "@example.com", w.userA2, w.userA2 + "@example.com", w.userB, w.userB + "@example.com"}},
		{`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member'), ($4, $5, 'owner')`,
			[]any{w.tenantA, w.userA, w.userA2, w.tenantB, w.userB}},
		{`INSERT INTO profiles (tenant_id, user_id, display_name) VALUES ($1, $2, 'Alice'), ($3, $4, 'Bob')`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		{`INSERT INTO businesses (id, tenant_id, name, kind, created_by) VALUES ($1, $2, 'A Stables', 'stable', $3), ($4, $5, 'B Vets', 'vet', $6)`,
			[]any{w.businessA, w.tenantA, w.userA, w.businessB, w.tenantB, w.userB}},
		{`INSERT INTO business_members (tenant_id, business_id, user_id, role) VALUES ($1, $2, $3, 'owner'), ($4, $5, $6, 'owner')`,
			[]any{w.tenantA, w.businessA, w.userA, w.tenantB, w.businessB, w.userB}},
		{`INSERT INTO horses (id, tenant_id, name, owner_business_id, created_by) VALUES ($1, $2, 'Alpha', $3, $4), ($5, $6, 'Bravo', $7, $8)`,
			[]any{w.horseA, w.tenantA, w.businessA, w.userA, w.horseB, w.tenantB, w.businessB, w.userB}},
		{`INSERT INTO idempotency_keys (tenant_id, user_id, route, key, request_hash, scope)
		  VALUES ($1, $2, 'POST /horses', 'k1', '\x01', idempotency_scope($1, $2, 'POST /horses', 'k1')),
		         ($3, $4, 'POST /horses', 'k1', '\x02', idempotency_scope($3, $4, 'POST /horses', 'k1')),
		         (NULL, '', 'POST /signup', 'k1', '\x03', idempotency_scope(NULL, '', 'POST /signup', 'k1'))`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		// One event per tenant in the current month's partition, and old ones in the default partition.
		{`INSERT INTO audit_events (tenant_id, user_id, kind, occurred_at) VALUES
		    ($1, $2, 'horse.created', now()), ($3, $4, 'horse.created', now()), (NULL, '', 'auth.failed', now()),
		    ($1, $2, 'horse.created', '2001-01-01'), ($3, $4, 'horse.created', '2001-01-01'), (NULL, '', 'auth.failed', '2001-01-01')`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		// Webhooks (0007): an endpoint per tenant, with one delivery and one attempt each.
		{`WITH e AS (INSERT INTO webhook_endpoints (tenant_id, url, event_types, secret)
		      VALUES ($1, 'https://a.example/hook', '{horse.created}', 'whsec_a'), ($2, 'https://b.example/hook', '{horse.created}', 'whsec_b')
		      RETURNING tenant_id, id),
		  d AS (INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload)
		      SELECT tenant_id, id, gen_random_uuid(), 'horse.created', '{}' FROM e RETURNING tenant_id, id)
		  INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status_code, duration_ms)
		  SELECT tenant_id, id, 1, 500, 3 FROM d`,
			[]any{w.tenantA, w.tenantB}},
		// Identity (0009): a session with its refresh token and an invite per tenant.
		{`WITH s AS (INSERT INTO sessions (tenant_id, user_id, expires_at)
		      VALUES ($1, $2, now() + interval '1 day'), ($3, $4, now() + interval '1 day') RETURNING id, tenant_id, user_id)
		  INSERT INTO refresh_tokens (token_hash, session_id, tenant_id, user_id, expires_at)
		  SELECT sha256(id::text::bytea), id, tenant_id, user_id, now() + interval '1 day' FROM s`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		{`INSERT INTO tenant_invites (tenant_id, code_hash, role, created_by, expires_at) VALUES
		    ($1, sha256(gen_random_uuid()::text::bytea), 'member', $2, now() + interval '7 days'),
		    ($3, sha256(gen_random_uuid()::text::bytea), 'member', $4, now() + interval '7 days')`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		// Stripe events (0008): one about each tenant and one about none.
		{`INSERT INTO stripe_events (id, type, tenant_id, created_at, payload) VALUES
		    ('evt_' || gen_random_uuid(), 'checkout.session.completed', $1, now(), '{}'),
		    ('evt_' || gen_random_uuid(), 'checkout.session.completed', $2, now(), '{}'),
		    ('evt_' || gen_random_uuid(), 'payout.paid', NULL, now(), '{}')`,
			[]any{w.tenantA, w.tenantB}},
		// Outbox (0006): an entry per tenant and one of no tenant; a notification per tenant.
		{`INSERT INTO outbox (tenant_id, queue, kind, payload) VALUES ($1, 'jobs', 'k', '{}'), ($2, 'jobs', 'k', '{}'), (NULL, 'jobs', 'k', '{}')`,
			[]any{w.tenantA, w.tenantB}},
		{`INSERT INTO notifications (tenant_id, user_id, kind, title) VALUES ($1, $2, 'k', 'A'), ($3, $4, 'k', 'B')`,
			[]any{w.tenantA, w.userA, w.tenantB, w.userB}},
		// Processed messages (0005): one per tenant and one of no tenant.
		{`INSERT INTO processed_messages (tenant_id, consumer, message_id) VALUES ($1, 'c', 'm1'), ($2, 'c', 'm1'), (NULL, 'c', 'm1')`,
			[]any{w.tenantA, w.tenantB}},
	}
	for _, s := range steps {
		if _, err := owner.Exec(context.Background(), s.sql, s.args...); err != nil {
			t.Fatalf("arrange: %v\n%s", err, s.sql)
		}
	}
	return w
}

// sqlState returns the SQLSTATE of err, or "" when err is not a PostgreSQL error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// tenantTables lists the tables of schema public that have a tenant_id column, partitioned parents
// included and their partitions excluded when parentsOnly is set.
func tenantTables(t testing.TB, owner *pgxpool.Pool, parentsOnly bool) []string {
	t.Helper()
	const q = `
		SELECT c.relname
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND (NOT $1 OR NOT c.relispartition)
		ORDER BY c.relname`
	rows, err := owner.Query(context.Background(), q, parentsOnly)
	if err != nil {
		t.Fatalf("list tenant tables: %v", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("list tenant tables: %v", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list tenant tables: %v", err)
	}
	return names
}

// orderedIDs runs q (through the owner pool, bypassing row-level security) and returns its one text column.
func orderedIDs(t testing.TB, owner *pgxpool.Pool, q string, args ...any) []string {
	t.Helper()
	rows, err := owner.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// allPages follows a keyset listing from its first page to its last and returns the ids it served, in
// order. page reads the page after a position (nil for the first) and returns its ids and the position
// after it, nil on the last page. allPages fails the test on an error from page, and when the listing
// has not ended after maxPages+1 pages.
func allPages[P any](t testing.TB, maxPages int, page func(after *P) (ids []string, next *P, err error)) []string {
	t.Helper()
	var (
		got   []string
		after *P
	)
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatal("pagination does not end")
		}
		ids, next, err := page(after)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids...)
		if next == nil {
			return got
		}
		after = next
	}
}
