package localrun_test

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/totp"
)

// authClient calls the local runner's server like the frontend does.
type authClient struct {
	t  *testing.T
	ts *httptest.Server
}

type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (c authClient) do(method, path, token string, body any, cookies ...*http.Cookie) reply {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.ts.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	res, err := c.ts.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func (r reply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

func (r reply) want(t *testing.T, status int, what string) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Raw)
	}
	return r
}

func authServer(t *testing.T) authClient {
	t.Helper()
	// The browser app's origin, allowed to write with the refresh cookie (CSRF check).
	return authServerOn(t, seeded(t, func(c *config.Config) { c.CORSAllowedOrigins = []string{"http://localhost:5173"} }))
}

// authServerOn serves every function of the template on env's clients.
func authServerOn(t *testing.T, env *platformtest.Env) authClient {
	t.Helper()
	tpl, _ := repoTemplate(t)
	srv, err := localrun.NewServer(tpl, env.Deps, catalog.HTTP())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return authClient{t: t, ts: ts}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", secret, err)
	}
	return totp.Code(raw, at)
}

// A new user signs up with a new organisation, verifies the email, signs in, calls the foundation's
// functions with the token, enrols TOTP, signs in again with the second factor, refreshes, and logs out.
func TestAuthFlowSignupToLogout(t *testing.T) {
	t.Parallel()
	c := authServer(t)
	const email, password = "rider@example.com", "a long enough passphrase"

	res := c.do("POST", "/auth/signup", "", map[string]any{"email": email, "password": password,
		"display_name": "Rider", "tenant_name": "Hilltop Riders"}).want(t, 202, "signup")
	verify := res.str("verification_token")
	if verify == "" {
		t.Fatalf("signup in dev returns the verification token: %s", res.Raw)
	}
	c.do("POST", "/auth/verify-email", "", map[string]any{"token": verify}).want(t, 204, "verify email")
	c.do("POST", "/auth/verify-email", "", map[string]any{"token": verify}).want(t, 400, "verify email twice")

	// The same email again: the same answer, and no second account.
	again := c.do("POST", "/auth/signup", "", map[string]any{"email": email, "password": "another passphrase!",
		"tenant_name": "Impostors"}).want(t, 202, "signup again")
	if again.str("status") != res.str("status") {
		t.Errorf("a registered email answers %s, a new one %s", again.Raw, res.Raw)
	}

	login := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": email, "password": password}).
		want(t, 200, "password grant")
	access, refresh := login.str("access_token"), login.str("refresh_token")
	if access == "" || refresh == "" || login.str("aal") != "aal1" || login.str("role") != "owner" {
		t.Fatalf("password grant: %s", login.Raw)
	}
	if cc := login.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token answer Cache-Control %q, want no-store", cc)
	}

	// The token works on the foundation's functions, in the new tenant only.
	c.do("POST", "/horses", access, map[string]any{"name": "Dusty", "sex": "gelding"}).want(t, 201, "create a horse")
	list := c.do("GET", "/horses", access, nil).want(t, 200, "list horses")
	if !strings.Contains(list.Raw, "Dusty") || strings.Contains(list.Raw, "Midnight Star") {
		t.Errorf("horses of the new tenant: %s", list.Raw)
	}
	c.do("GET", "/horses/"+localrun.HorseA, access, nil).want(t, 404, "another tenant's horse")

	// Enrol TOTP; confirming gives ten recovery codes and an aal2 token.
	enrol := c.do("POST", "/auth/mfa/totp", access, nil).want(t, 201, "enrol")
	secret := enrol.str("secret")
	if secret == "" || !strings.HasPrefix(enrol.str("otpauth_uri"), "otpauth://totp/") {
		t.Fatalf("enrolment: %s", enrol.Raw)
	}
	now := time.Now()
	c.do("POST", "/auth/mfa/totp/verify", access, map[string]any{"code": "000000"}).want(t, 400, "wrong first code")
	conf := c.do("POST", "/auth/mfa/totp/verify", access, map[string]any{"code": totpCode(t, secret, now)}).want(t, 200, "confirm")
	codes, _ := conf.Body["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", conf.Raw)
	}
	tokens, _ := conf.Body["tokens"].(map[string]any)
	if tokens["aal"] != "aal2" {
		t.Errorf("tokens after confirmation: %v, want aal2", tokens)
	}

	// A password alone no longer signs in: an MFA step, then the code (each code once) or a recovery code.
	step := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": email, "password": password}).
		want(t, 200, "password grant with MFA")
	if step.Body["mfa_required"] != true || step.str("access_token") != "" {
		t.Fatalf("password grant of an MFA user: %s", step.Raw)
	}
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "mfa", "mfa_token": step.str("mfa_token"), "code": "123456"}).
		want(t, 401, "wrong code")
	// The code used for the confirmation is spent: the next time step's code signs in.
	mfa := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "mfa", "mfa_token": step.str("mfa_token"),
		"code": totpCode(t, secret, now.Add(30*time.Second))}).want(t, 200, "mfa grant")
	if mfa.str("aal") != "aal2" || mfa.str("access_token") == "" {
		t.Fatalf("mfa grant: %s", mfa.Raw)
	}
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "mfa", "mfa_token": step.str("mfa_token"),
		"code": totpCode(t, secret, now.Add(60*time.Second))}).want(t, 401, "mfa token used twice")

	step2 := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": email, "password": password}).want(t, 200, "login 3")
	rc := codes[0].(string)
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "mfa", "mfa_token": step2.str("mfa_token"), "recovery_code": rc}).
		want(t, 200, "recovery code")
	step3 := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": email, "password": password}).want(t, 200, "login 4")
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "mfa", "mfa_token": step3.str("mfa_token"), "recovery_code": rc}).
		want(t, 401, "recovery code twice")

	// MFA removal needs aal2: refused with the aal1 token, allowed with the aal2 one.
	c.do("DELETE", "/auth/mfa/totp", access, nil).want(t, 403, "remove MFA at aal1")
	st := c.do("GET", "/auth/mfa", mfa.str("access_token"), nil).want(t, 200, "mfa status")
	if st.Body["enrolled"] != true || st.Body["recovery_codes_left"] != float64(9) {
		t.Errorf("mfa status: %s", st.Raw)
	}

	// Refresh rotates; the new token works; the old one, presented again, revokes the session.
	r1 := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}).want(t, 200, "refresh")
	r2 := r1.str("refresh_token")
	if r2 == "" || r2 == refresh || r1.str("session_id") != login.str("session_id") {
		t.Fatalf("refresh: %s", r1.Raw)
	}
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}).want(t, 401, "reuse")
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": r2}).want(t, 401, "the family after reuse")

	// Logout revokes the mfa session's refresh token.
	mr := mfa.str("refresh_token")
	c.do("POST", "/auth/logout", "", map[string]any{"refresh_token": mr}).want(t, 204, "logout")
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": mr}).want(t, 401, "refresh after logout")
}
