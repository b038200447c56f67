package localrun_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/localrun"
)

// Wrong passwords lock the account, whether or not it exists, with answers that look alike; an IP that
// keeps failing across accounts is blocked for the others too.
func TestAuthBruteForceLocksAccountThenIP(t *testing.T) {
	t.Parallel()
	c := authServer(t)
	owner := "owner@sunrise.test"

	unknown := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "nobody@example.com", "password": "wrong password!"})
	wrong := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": owner, "password": "wrong password!"})
	if unknown.Status != 401 || wrong.Status != 401 || unknown.str("detail") != wrong.str("detail") || unknown.str("type") != wrong.str("type") {
		t.Fatalf("unknown email %d %s vs wrong password %d %s: want the same 401", unknown.Status, unknown.Raw, wrong.Status, wrong.Raw)
	}
	for i := 0; i < 3; i++ {
		c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": owner, "password": "wrong password!"}).want(t, 401, "wrong password")
	}
	// The fifth failure locks the account: even the right password is refused now, with Retry-After.
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": owner, "password": "wrong password!"}).want(t, 429, "fifth failure")
	locked := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": owner, "password": localrun.DevPassword}).
		want(t, 429, "right password while locked")
	if locked.Header.Get("Retry-After") == "" {
		t.Errorf("lockout without Retry-After: %v", locked.Header)
	}
	// Another account from the same IP still signs in...
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "member@sunrise.test", "password": localrun.DevPassword}).
		want(t, 200, "another account")
	// ...until the IP has failed against ten accounts: then it is blocked for every account.
	for i := 0; i < 10; i++ {
		c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "spray" + string(rune('a'+i)) + "@example.com", "password": "wrong password!"})
	}
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "member@sunrise.test", "password": localrun.DevPassword}).
		want(t, 429, "blocked IP")
}

// In cookie mode the refresh token lives in an HttpOnly cookie, and a write that authenticates with it
// needs the CSRF token and an allowed Origin.
func TestAuthCookieModeNeedsCSRF(t *testing.T) {
	t.Parallel()
	c := authServer(t)
	login := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "owner@northwind.test",
		"password": localrun.DevPassword, "use_cookie": true}).want(t, 200, "cookie login")
	if login.str("refresh_token") != "" {
		t.Errorf("cookie mode returned the refresh token in the body: %s", login.Raw)
	}
	var refresh *http.Cookie
	for _, ck := range (&http.Response{Header: login.Header}).Cookies() {
		if ck.Name == "__Host-corral_refresh" {
			refresh = ck
		}
	}
	if refresh == nil || !refresh.HttpOnly || !refresh.Secure || refresh.SameSite != http.SameSiteStrictMode || refresh.Path != "/" {
		t.Fatalf("refresh cookie %+v, want HttpOnly, Secure, SameSite=Strict, Path=/", refresh)
	}
	body := map[string]any{"grant_type": "refresh_token"}
	c.do("POST", "/auth/token", "", body, refresh).want(t, 403, "cookie refresh without CSRF token")
	if strings.Contains(c.do("POST", "/auth/logout", "", nil, refresh).Raw, "csrf") == false {
		t.Errorf("cookie logout without CSRF token was not refused by the CSRF check")
	}

	csrfRes := c.do("GET", "/auth/csrf", "", nil).want(t, 200, "csrf token")
	token := csrfRes.str("csrf_token")
	csrfCookie := &http.Cookie{Name: "__Host-corral_csrf", Value: token}
	do := func(origin, header string) reply {
		req, _ := http.NewRequest("POST", c.ts.URL+"/auth/token", strings.NewReader(`{"grant_type":"refresh_token"}`))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if header != "" {
			req.Header.Set("X-CSRF-Token", header)
		}
		req.AddCookie(refresh)
		req.AddCookie(csrfCookie)
		res, err := c.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return reply{Status: res.StatusCode, Header: res.Header}
	}
	if r := do("https://evil.example", token); r.Status != 403 {
		t.Errorf("token from a foreign origin: %d, want 403", r.Status)
	}
	if r := do("http://localhost:5173", "forged"); r.Status != 403 {
		t.Errorf("forged token: %d, want 403", r.Status)
	}
	if r := do("http://localhost:5173", token); r.Status != 200 {
		t.Errorf("token and allowed origin: %d, want 200", r.Status)
	}
}

// An invite lets a new user join the tenant with the invite's role, once.
func TestAuthSignupWithInvite(t *testing.T) {
	t.Parallel()
	c := authServer(t)
	owner := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "owner@sunrise.test", "password": localrun.DevPassword}).
		want(t, 200, "owner login")
	inv := c.do("POST", "/tenant/invites", owner.str("access_token"), map[string]any{"role": "moderator"}).want(t, 201, "invite")
	code := inv.str("code")
	c.do("POST", "/auth/signup", "", map[string]any{"email": "groom2@example.com", "password": "a long enough passphrase", "invite_code": code}).
		want(t, 202, "signup with invite")
	c.do("POST", "/auth/signup", "", map[string]any{"email": "groom3@example.com", "password": "a long enough passphrase", "invite_code": code}).
		want(t, 400, "invite used twice")
	login := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "groom2@example.com", "password": "a long enough passphrase"}).
		want(t, 200, "invitee login")
	if login.str("tenant_id") != localrun.TenantA || login.str("role") != "moderator" {
		t.Errorf("invitee: %s", login.Raw)
	}
	c.do("GET", "/horses/"+localrun.HorseA, login.str("access_token"), nil).want(t, 200, "invitee reads the tenant's horse")
}

// A token that verifies but whose account no longer exists (deleted since it was issued, or minted for a
// made-up user by a holder of the signing key) is refused as unauthenticated, not a server error.
func TestAuthMFAForAccountThatDoesNotExist(t *testing.T) {
	t.Parallel()
	env := seeded(t)
	c := authServerOn(t, env)
	token := env.Token(t, localrun.TenantA, "0b5e0000-0000-4000-8000-00000000dead", "member")
	res := c.do("POST", "/auth/mfa/totp", token, nil).want(t, 401, "enrol TOTP for an account that does not exist")
	if res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", res.Header.Get("Content-Type"))
	}
}
