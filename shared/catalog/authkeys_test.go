package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// signingKeysPEM returns JWT_SIGNING_KEYS text of fresh keys under kids, the first active by default.
func signingKeysPEM(t *testing.T, kids ...string) string {
	t.Helper()
	var keys []auth.SigningKey
	for _, kid := range kids {
		k, err := auth.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, auth.SigningKey{KID: kid, Key: k})
	}
	text, err := auth.MarshalKeyRingPEM(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// A token from the Issuer of a function with signing keys verifies in another function that knows only the
// JWKS URL of auth-keys: the path every other Lambda takes.
func TestAuthKeysEndToEnd(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t, func(c *config.Config) {
		c.JWT.SigningKeys = signingKeysPEM(t, "2031-03", "2031-02")
		c.JWT.SigningKID = "2031-02"
	})
	d := env.Deps
	if d.KeyRing == nil || d.Issuer == nil {
		t.Fatalf("Deps.KeyRing = %v, Deps.Issuer = %v; want both with JWT_SIGNING_KEYS set", d.KeyRing, d.Issuer)
	}
	srv := httptest.NewServer(platform.Handler(d, catalog.AuthKeys(d)))
	t.Cleanup(srv.Close)

	res, err := srv.Client().Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	err = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != auth.JWKSCacheControl || res.Header.Get("ETag") == "" {
		t.Errorf("GET: status %d, Cache-Control %q, ETag %q; want 200, %q and a tag",
			res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("ETag"), auth.JWKSCacheControl)
	}
	var kids []string
	for _, k := range doc.Keys {
		if k.Alg != "ES256" || k.D != "" {
			t.Errorf("key %s: alg %q, private part %t; want ES256, public only", k.KID, k.Alg, k.D != "")
		}
		kids = append(kids, k.KID)
	}
	if diff := cmp.Diff([]string{"2031-02", "2031-03"}, kids); diff != "" {
		t.Errorf("published kids, active first (-want +got):\n%s", diff)
	}

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/.well-known/jwks.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d; want 304", res2.StatusCode)
	}

	tn := env.NewTenant(t, "keys")
	token, _, err := d.Issuer.Issue(context.Background(), auth.AccessClaims{Subject: tn.OwnerID, TenantID: tn.ID, Role: auth.RoleOwner, AMR: []string{"pwd"}})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := auth.NewVerifier(config.JWT{Issuer: platformtest.Issuer, Audience: platformtest.Audience, JWKSURL: srv.URL + "/.well-known/jwks.json"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*auth.Verifier{"through the JWKS": remote, "in process": d.Verifier} {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			t.Errorf("%s: Verify: %v", name, err)
			continue
		}
		if p.UserID != tn.OwnerID || p.TenantID != tn.ID || !p.HasRole(auth.RoleOwner) {
			t.Errorf("%s: principal %+v; want the owner of %s", name, p, tn.ID)
		}
	}
}

func TestAuthKeysRoute(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t, func(c *config.Config) { c.JWT.SigningKeys = "" })
	routes := catalog.AuthKeys(env.Deps)
	if len(routes) != 1 {
		t.Fatalf("%d routes, want 1", len(routes))
	}
	rt := routes[0]
	if rt.Pattern != "GET /.well-known/jwks.json" || !rt.Public || rt.Policy.Scope != ratelimit.ScopeIP {
		t.Errorf("route %q public=%v scope=%v; want GET /.well-known/jwks.json, public, per IP", rt.Pattern, rt.Public, rt.Policy.Scope)
	}
	res := platformtest.Do(t, platform.Handler(env.Deps, routes), httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil), "")
	if res.Status != http.StatusInternalServerError {
		t.Errorf("without JWT_SIGNING_KEYS: status %d; want 500 (never an empty key set): %s", res.Status, res.Body)
	}
}
