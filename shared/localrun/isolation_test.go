package localrun_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/localrun"
)

// Through every route of template.yaml, Northwind's owner sees nothing of Sunrise (tenant A) and changes
// nothing of it: A's resources in a path answer 404 (they do not exist for B), no body names any of A's ids
// or names, and A's rows are untouched afterwards. New routes are covered automatically; a route whose
// path parameter has no tenant-A fixture below fails the test until one is added.
func TestTenantIsolationThroughEveryRoute(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	env := seeded(t)
	srv, err := localrun.NewServer(tpl, env.Deps, catalog.HTTP())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	tokenB := tokenFor(t, env, "owner@northwind.test")

	// Tenant A's webhook endpoint and a delivery to it (the seed has none). The delivery shares the
	// endpoint's id, so the one fixture of "webhooks/{id}/{id}" names an endpoint and a delivery of A.
	const webhookA = "e0000000-0000-4000-8000-0000000000a1"
	if _, err := env.DB.Owner.Exec(context.Background(), `
WITH e AS (
    INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret)
    VALUES ($1, $2, 'https://192.0.3.10/sunrise-hooks', '{horse.created}', 'whsec_c3VucmlzZQ==')
    RETURNING id, tenant_id)
INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, payload, status)
SELECT id, tenant_id, id, gen_random_uuid(), 'horse.created', '{}', 'dead' FROM e`, webhookA, localrun.TenantA); err != nil {
		t.Fatal(err)
	}

	// A pending invite of tenant A (the seed has none).
	const inviteA = "a4000000-0000-4000-8000-000000000001"
	if _, err := env.DB.Owner.Exec(context.Background(), `
INSERT INTO tenant_invites (id, tenant_id, code_hash, role, created_by, expires_at)
VALUES ($1, $2, sha256('sunrise-invite'::bytea), 'member', $3, now() + interval '7 days')`, inviteA, localrun.TenantA, localrun.OwnerA); err != nil {
		t.Fatal(err)
	}

	// Tenant A's resource for each path parameter, by the route's first path segment.
	idOf := map[string]string{
		"horses/{id}":               localrun.HorseA,
		"businesses/{id}":           localrun.BusinessA,
		"profiles/{id}":             localrun.ProfileOwnerA,
		"businesses/{id}/{user_id}": localrun.GroomA,
		"webhooks/{id}/{id}":        webhookA,
		"tenant/{id}/{user_id}":     localrun.MemberA,
		"tenant/{id}/{id}":          inviteA,
	}
	// Bodies that would be valid for B's own resources, so that only tenancy can refuse them.
	bodyFor := map[string]string{
		"POST /horses":                  `{"name":"Hijacked","sex":"mare"}`,
		"PATCH /horses/{id}":            `{"name":"Hijacked"}`,
		"POST /businesses":              `{"name":"Hijacked","kind":"stable"}`,
		"PATCH /businesses/{id}":        `{"name":"Hijacked"}`,
		"POST /businesses/{id}/members": `{"user_id":"` + localrun.MemberB + `","role":"staff"}`,
		"PATCH /me":                     `{"bio":"still B"}`,
		"POST /webhooks/endpoints":      `{"url":"https://192.0.3.10/northwind","event_types":["horse.created"]}`,

		// The tenant function: B renames itself, promotes A's member, invites.
		"PATCH /tenant":                   `{"name":"Northwind Equestrian"}`,
		"PATCH /tenant/members/{user_id}": `{"role":"moderator"}`,
		"POST /tenant/invites":            `{"role":"member"}`,
	}
	queriesFor := map[string][]string{
		"GET /entities/search": {"q=Midnight", "q=Sunrise", "q=Ada", "q=Copper&type=horse", "q=Gus"},
	}
	secretsOfA := []string{localrun.TenantA, localrun.OwnerA, localrun.MemberA, localrun.GroomA, localrun.HorseA,
		localrun.HorseA2, localrun.BusinessA, localrun.ProfileOwnerA, "Midnight Star", "Copper Penny", "Sunrise", "Ada Sunrise", "Gus Groom", "sunrise-hooks",
		inviteA, "Ben Rider"}

	checked := 0
	for _, f := range tpl.Functions {
		for _, rt := range f.Routes {
			// No tenant data behind these: health and auth-keys (the public JWKS) are public; stripe-webhook is
			// public and authenticated by Stripe's signature instead of a token (shared/stripehook and
			// shared/catalog test it).
			if f.Name == "health" || f.Name == "auth-keys" || f.Name == "stripe-webhook" {
				continue
			}
			// The auth functions hold no tenant data in their paths: they act on the caller's own account
			// and sessions (TestAuth* cover them). Switching into tenant A is the one tenancy question.
			if strings.HasPrefix(f.Name, "auth-") {
				if rt.Key() == "POST /auth/switch-tenant" {
					req, _ := http.NewRequest("POST", ts.URL+rt.Path, strings.NewReader(`{"tenant_id":"`+localrun.TenantA+`"}`))
					req.Header.Set("Authorization", "Bearer "+tokenB)
					req.Header.Set("Content-Type", "application/json")
					res, err := ts.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusUnauthorized {
						t.Errorf("B switching into tenant A: status %d, want 401/403: %s", res.StatusCode, got)
					}
					checked++
				}
				continue
			}
			// queues-admin is for platform administrators: a tenant's owner is refused every route.
			if f.Name == "queues-admin" {
				checkAdminOnly(t, ts, rt.Method, strings.ReplaceAll(rt.Path, "{name}", "jobs"), tokenB)
				checked++
				continue
			}
			path, hasA := rt.Path, false
			segs := strings.Split(strings.Trim(rt.Path, "/"), "/")
			for i, s := range segs {
				if !strings.HasPrefix(s, "{") {
					continue
				}
				key := segs[0] + "/" + s
				if i > 1 {
					key = segs[0] + "/{id}/" + s
				}
				id, ok := idOf[key]
				if !ok {
					t.Errorf("%s: no tenant-A fixture for %s", rt.Key(), key)
					continue
				}
				path, hasA = strings.Replace(path, s, id, 1), true
			}
			queries := queriesFor[rt.Key()]
			if queries == nil {
				queries = []string{""}
			}
			for _, q := range queries {
				url := ts.URL + path
				if q != "" {
					url += "?" + q
				}
				var body io.Reader
				if b := bodyFor[rt.Key()]; b != "" {
					body = strings.NewReader(b)
				}
				req, err := http.NewRequest(rt.Method, url, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tokenB)
				req.Header.Set("Content-Type", "application/json")
				res, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(res.Body)
				res.Body.Close()
				checked++
				if hasA && res.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s as B: status %d, want 404: %s", rt.Method, path, res.StatusCode, got)
				}
				if !hasA && res.StatusCode >= 300 {
					t.Errorf("%s %s as B: status %d, want success on B's own data: %s", rt.Method, url, res.StatusCode, got)
				}
				// The problem's "instance" echoes the path the caller sent; that is not a disclosure.
				shown := strings.ReplaceAll(string(got), `"instance":"`+path+`"`, "")
				for _, s := range secretsOfA {
					if strings.Contains(shown, s) {
						t.Errorf("%s %s as B: body reveals tenant A's %q: %s", rt.Method, url, s, got)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no routes checked")
	}

	// Nothing of A changed.
	var horses, hijacked, members int
	err = env.DB.Owner.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM horses WHERE tenant_id = $1),
		       (SELECT count(*) FROM horses h WHERE h.tenant_id = $1 AND h.name = 'Hijacked')
		       + (SELECT count(*) FROM businesses b WHERE b.tenant_id = $1 AND b.name = 'Hijacked'),
		       (SELECT count(*) FROM business_members WHERE tenant_id = $1)`, localrun.TenantA).Scan(&horses, &hijacked, &members)
	if err != nil {
		t.Fatal(err)
	}
	if horses != 2 || hijacked != 0 || members != 2 {
		t.Fatalf("tenant A after B's requests: horses %d (want 2), hijacked %d (want 0), business members %d (want 2)", horses, hijacked, members)
	}
	var tenantName, memberRole string
	var memberships, pendingInvites int
	err = env.DB.Owner.QueryRow(context.Background(), `
		SELECT (SELECT name FROM tenants WHERE id = $1),
		       (SELECT count(*) FROM memberships WHERE tenant_id = $1),
		       (SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2),
		       (SELECT count(*) FROM tenant_invites WHERE tenant_id = $1 AND revoked_at IS NULL)`,
		localrun.TenantA, localrun.MemberA).Scan(&tenantName, &memberships, &memberRole, &pendingInvites)
	if err != nil {
		t.Fatal(err)
	}
	if tenantName != "Sunrise Stables" || memberships != 3 || memberRole != "member" || pendingInvites != 1 {
		t.Fatalf("tenant A after B's requests: name %q, %d members, Ben is %s, %d pending invites; want Sunrise Stables, 3, member, 1",
			tenantName, memberships, memberRole, pendingInvites)
	}
}

// checkAdminOnly sends method path as a tenant owner (with an Idempotency-Key, so that only the role can
// refuse it) and wants 403.
func checkAdminOnly(t *testing.T, ts *httptest.Server, method, path, token string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", "isolation-"+strings.ReplaceAll(path, "/", "-"))
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("%s %s as a tenant owner: status %d, want 403: %s", method, path, res.StatusCode, got)
	}
}
