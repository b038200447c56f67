package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
)

func TestUnreachableServerMessage(t *testing.T) {
	t.Setenv(envAdminURL, "postgres://postgres:s3cret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	_, err := connectAdmin(context.Background())
	if err == nil {
		t.Fatal("connectAdmin to a closed port: err = nil")
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1:1", "make test", envAdminURL} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("message leaks the password: %q", msg)
	}
}

func TestTemplateNameIsStable(t *testing.T) {
	t.Parallel()
	a, err := templateName()
	if err != nil {
		t.Fatal(err)
	}
	b, err := templateName()
	if err != nil {
		t.Fatal(err)
	}
	if a != b || len(a) != len("corral_tpl_")+12 || !strings.HasPrefix(a, "corral_tpl_") {
		t.Errorf("templateName() = %q then %q, want one corral_tpl_ name with 12 hex digits", a, b)
	}
}

func TestNewGivesIsolatedDatabases(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if a.Name == b.Name {
		t.Fatalf("two databases share the name %s", a.Name)
	}
	ctx := context.Background()
	if _, err := a.Owner.Exec(ctx, `INSERT INTO tenants (name, slug) VALUES ('only in a', 'only-in-a')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Owner.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database b sees %d tenants written to a", n)
	}
	var user string
	if err := b.App.QueryRow(ctx, auth.Principal{}, postgres.ReadOnly, `SELECT current_user`, nil, &user); err != nil {
		t.Fatal(err)
	}
	if user != AppRole {
		t.Errorf("App connects as %q, want %q", user, AppRole)
	}
}

// TestMaintReachesOnlyMaintainedTables checks that Maint connects as corral_maint, which sees every
// tenant's idempotency keys (a maintenance policy) but no tenant table without one.
func TestMaintReachesOnlyMaintainedTables(t *testing.T) {
	t.Parallel()
	db := New(t)
	ctx := context.Background()
	const arrange = `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ('a', 'a'), ('b', 'b') RETURNING id)
INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, scope)
SELECT id, 'POST /x', 'k', '\x00', idempotency_scope(id, '', 'POST /x', 'k') FROM t`
	if _, err := db.Owner.Exec(ctx, arrange); err != nil {
		t.Fatal(err)
	}
	var user string
	var n int
	if err := db.Maint.QueryRow(ctx, `SELECT current_user, (SELECT count(*) FROM idempotency_keys)`).Scan(&user, &n); err != nil {
		t.Fatal(err)
	}
	if user != MaintRole || n != 2 {
		t.Errorf("Maint is %q and sees %d idempotency keys, want %q and 2 (both tenants)", user, n, MaintRole)
	}
	if _, err := db.Maint.Exec(ctx, `SELECT count(*) FROM tenants`); err == nil {
		t.Error("corral_maint reads tenants: want permission denied")
	}
}
