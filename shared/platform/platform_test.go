package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/syncbuf"
)

// testRoutes is a small function: an echo read, a counting write, a failing write, a panicking route, a
// required-key route and a tight rate limit.
type testRoutes struct {
	writes atomic.Int64
	fails  atomic.Int64
	gate   chan struct{} // when non-nil, the slow route waits on it
}

func (tr *testRoutes) routes() []platform.Route {
	loose := ratelimit.Policy{Name: "t.loose", Rate: 1000, Period: time.Minute, Burst: 1000, Scope: ratelimit.ScopeUser}
	return []platform.Route{
		{Pattern: "GET /whoami", Policy: loose, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.FromContext(r.Context())
			httpapi.WriteJSON(w, r, http.StatusOK, map[string]string{"tenant": p.TenantID, "user": p.UserID})
		})},
		{Pattern: "POST /things", Policy: loose, Idempotency: platform.IdempotencyOptional, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			type in struct {
				Name string `json:"name"`
			}
			v, err := httpapi.Decode[in](r, 1<<10)
			if err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			n := tr.writes.Add(1)
			w.Header().Set("Location", "/things/1")
			httpapi.WriteJSON(w, r, http.StatusCreated, map[string]any{"name": v.Name, "n": n})
		})},
		{Pattern: "POST /slow", Policy: loose, Idempotency: platform.IdempotencyOptional, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-tr.gate
			httpapi.WriteJSON(w, r, http.StatusCreated, map[string]string{"ok": "yes"})
		})},
		{Pattern: "POST /flaky", Policy: loose, Idempotency: platform.IdempotencyOptional, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tr.fails.Add(1) == 1 {
				httpapi.WriteError(w, r, httpapi.Internal(io.ErrUnexpectedEOF))
				return
			}
			httpapi.WriteJSON(w, r, http.StatusCreated, map[string]int64{"attempt": tr.fails.Load()})
		})},
		{Pattern: "POST /pay", Policy: loose, Idempotency: platform.IdempotencyRequired, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteJSON(w, r, http.StatusCreated, map[string]string{"paid": "yes"})
		})},
		{Pattern: "GET /panic", Policy: loose, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom with secret detail")
		})},
		{Pattern: "GET /tight", Policy: ratelimit.Policy{Name: "t.tight", Rate: 2, Period: time.Minute, Burst: 2, Scope: ratelimit.ScopeUser},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })},
		{Pattern: "GET /public", Public: true, Policy: ratelimit.Policy{Name: "t.public", Rate: 1, Period: time.Minute, Burst: 1, Scope: ratelimit.ScopeIP},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })},
	}
}

func newServer(t *testing.T, modify ...func(*config.Config)) (*platformtest.Env, *testRoutes, http.Handler) {
	t.Helper()
	env := platformtest.New(t, modify...)
	tr := &testRoutes{}
	return env, tr, platform.Handler(env.Deps, tr.routes())
}

func req(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	env, _, h := newServer(t)
	tn := env.NewTenant(t, "alpha")
	other, _ := auth.GenerateSigningKey()
	foreign, _ := auth.NewSigner(auth.SigningKey{KID: env.KID, Key: other})
	forged, _ := foreign.Sign(auth.Claims{Issuer: platformtest.Issuer, Audience: platformtest.Audience, Subject: tn.OwnerID, TenantID: tn.ID}, time.Minute)
	noTenant, _ := env.Signer.Sign(auth.Claims{Issuer: platformtest.Issuer, Audience: platformtest.Audience, Subject: tn.OwnerID}, time.Minute)

	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not bearer", "Basic abc", http.StatusUnauthorized},
		{"garbage", "Bearer not.a.jwt", http.StatusUnauthorized},
		{"signed by another key", "Bearer " + forged, http.StatusUnauthorized},
		{"no tenant", "Bearer " + noTenant, http.StatusForbidden},
		{"valid", "Bearer " + env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner), http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req("GET", "/whoami", "")
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			res := platformtest.Do(t, h, r, "")
			if tc.status == http.StatusOK {
				if res.Status != http.StatusOK {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				var got map[string]string
				res.JSON(t, &got)
				if got["tenant"] != tn.ID || got["user"] != tn.OwnerID {
					t.Fatalf("principal = %v", got)
				}
				return
			}
			p := res.Problem(t, tc.status)
			if p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-Id") {
				t.Errorf("problem request_id %q, header %q", p.RequestID, res.Header.Get("X-Request-Id"))
			}
			if tc.status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestRateLimitAnswers429WithHeadersAndAudits(t *testing.T) {
	t.Parallel()
	env, _, h := newServer(t)
	tn := env.NewTenant(t, "beta")
	tok := env.Token(t, tn.ID, tn.MemberID, auth.RoleMember)
	for i := 0; i < 2; i++ {
		res := platformtest.Do(t, h, req("GET", "/tight", ""), tok)
		if res.Status != http.StatusNoContent {
			t.Fatalf("request %d: status %d", i+1, res.Status)
		}
		if res.Header.Get("RateLimit-Policy") == "" || res.Header.Get("RateLimit") == "" {
			t.Fatalf("request %d lacks RateLimit headers: %v", i+1, res.Header)
		}
	}
	res := platformtest.Do(t, h, req("GET", "/tight", ""), tok)
	res.Problem(t, http.StatusTooManyRequests)
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// Another user of the same tenant has a budget of their own.
	other := env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner)
	if res := platformtest.Do(t, h, req("GET", "/tight", ""), other); res.Status != http.StatusNoContent {
		t.Fatalf("other user: status %d", res.Status)
	}
	// The violation is an audit row of the tenant.
	if err := env.Deps.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	err := env.DB.Owner.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND kind = 'rate_limit.exceeded' AND user_id = $2 AND route = 'GET /tight'`,
		tn.ID, tn.MemberID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("audit rows = %d, want 1", n)
	}
}

func TestAnonymousRoutesAreLimitedPerSourceIP(t *testing.T) {
	t.Parallel()
	_, _, h := newServer(t)
	from := func(ip string) *http.Request {
		r := req("GET", "/public", "")
		r.RemoteAddr = ip + ":5555"
		r.Header.Set("X-Forwarded-For", "10.9.9.9") // never trusted
		return r
	}
	if res := platformtest.Do(t, h, from("192.0.2.1"), ""); res.Status != http.StatusNoContent {
		t.Fatalf("first: %d", res.Status)
	}
	platformtest.Do(t, h, from("192.0.2.1"), "").Problem(t, http.StatusTooManyRequests)
	if res := platformtest.Do(t, h, from("192.0.2.2"), ""); res.Status != http.StatusNoContent {
		t.Fatalf("other IP: %d", res.Status)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	env, tr, h := newServer(t)
	tn := env.NewTenant(t, "gamma")
	tok := env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner)
	post := func(path, key, body, token string) *platformtest.Response {
		r := req("POST", path, body)
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		return platformtest.Do(t, h, r, token)
	}

	first := post("/things", "k1", `{"name":"a"}`, tok)
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", first.Status, first.Header)
	}
	again := post("/things", "k1", `{"name":"a"}`, tok)
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v", again.Status, again.Header)
	}
	if !bytes.Equal(first.Body, again.Body) || again.Header.Get("Location") != "/things/1" {
		t.Fatalf("replay differs: %s vs %s, Location %q", first.Body, again.Body, again.Header.Get("Location"))
	}
	if n := tr.writes.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	post("/things", "k1", `{"name":"b"}`, tok).Problem(t, http.StatusUnprocessableEntity)

	// The same key from another user, or in another tenant, is another key.
	other := env.NewTenant(t, "delta")
	if res := post("/things", "k1", `{"name":"a"}`, env.Token(t, tn.ID, tn.MemberID, auth.RoleMember)); res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("another user's request was replayed")
	}
	if res := post("/things", "k1", `{"name":"a"}`, env.Token(t, other.ID, other.OwnerID, auth.RoleOwner)); res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("another tenant's request was replayed")
	}
	if n := tr.writes.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}

	// A 5xx is not stored: the retry runs the handler again.
	if res := post("/flaky", "k2", `{}`, tok); res.Status != http.StatusInternalServerError {
		t.Fatalf("flaky first: %d", res.Status)
	}
	if res := post("/flaky", "k2", `{}`, tok); res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("flaky retry: %d %v", res.Status, res.Header)
	}

	// Required keys.
	post("/pay", "", `{}`, tok).Problem(t, http.StatusBadRequest)
	if res := post("/pay", "k3", `{}`, tok); res.Status != http.StatusCreated {
		t.Fatalf("pay: %d", res.Status)
	}
	post("/pay", strings.Repeat("x", 300), `{}`, tok).Problem(t, http.StatusBadRequest)
}

func TestIdempotencyConcurrentDuplicateIsConflict(t *testing.T) {
	t.Parallel()
	env, tr, h := newServer(t)
	tr.gate = make(chan struct{})
	tn := env.NewTenant(t, "eps")
	tok := env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner)
	r1 := req("POST", "/slow", `{}`)
	r1.Header.Set("Idempotency-Key", "same")
	var wg sync.WaitGroup
	var first *platformtest.Response
	wg.Go(func() { first = platformtest.Do(t, h, r1, tok) })
	// Wait until the first request holds the lease.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := env.DB.Owner.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys WHERE key = 'same'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first request never took the lease")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r2 := req("POST", "/slow", `{}`)
	r2.Header.Set("Idempotency-Key", "same")
	res := platformtest.Do(t, h, r2, tok)
	res.Problem(t, http.StatusConflict)
	if res.Header.Get("Retry-After") == "" {
		t.Error("409 without Retry-After")
	}
	close(tr.gate)
	wg.Wait()
	if first.Status != http.StatusCreated {
		t.Fatalf("first: %d", first.Status)
	}
}

func TestErrorsAreProblems(t *testing.T) {
	t.Parallel()
	env, _, h := newServer(t, func(c *config.Config) { c.MaxBodyBytes = 64 })
	tn := env.NewTenant(t, "zeta")
	tok := env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner)

	p := platformtest.Do(t, h, req("GET", "/panic", ""), tok).Problem(t, http.StatusInternalServerError)
	if strings.Contains(p.Detail, "secret") {
		t.Errorf("panic detail leaked: %q", p.Detail)
	}
	platformtest.Do(t, h, req("GET", "/nope", ""), tok).Problem(t, http.StatusNotFound)
	platformtest.Do(t, h, req("POST", "/things", `{"name":"`+strings.Repeat("x", 100)+`"}`), tok).Problem(t, http.StatusRequestEntityTooLarge)
	bad := platformtest.Do(t, h, req("POST", "/things", `{"name":1}`), tok).Problem(t, http.StatusBadRequest)
	if len(bad.Errors) != 1 || bad.Errors[0].Field != "name" {
		t.Errorf("field problems = %+v", bad.Errors)
	}
	platformtest.Do(t, h, req("POST", "/things", `{"nope":1}`), tok).Problem(t, http.StatusBadRequest)
	platformtest.Do(t, h, req("POST", "/things", `{"name":"a"} {}`), tok).Problem(t, http.StatusBadRequest)
	r := req("POST", "/things", `name=a`)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	platformtest.Do(t, h, r, tok).Problem(t, http.StatusUnsupportedMediaType)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	_, _, h := newServer(t, func(c *config.Config) { c.CORSAllowedOrigins = []string{"https://app.example"} })
	pre := req("OPTIONS", "/whoami", "")
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	res := platformtest.Do(t, h, pre, "")
	if res.Status != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", res.Status, res.Header)
	}
	evil := req("OPTIONS", "/whoami", "")
	evil.Header.Set("Origin", "https://evil.example")
	evil.Header.Set("Access-Control-Request-Method", "GET")
	if res := platformtest.Do(t, h, evil, ""); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", res.Header)
	}
}

// The access log line is also a CloudWatch EMF record.
func TestAccessLogIsEMF(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	var buf syncbuf.Buffer
	env.Deps.Log = logging.New(&buf, slog.LevelInfo, "test")
	tr := &testRoutes{}
	h := platform.Handler(env.Deps, tr.routes())
	tn := env.NewTenant(t, "eta")
	platformtest.Do(t, h, req("GET", "/whoami", ""), env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner))
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line in %q", buf.String())
	}
	aws, ok := line["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws metadata: %v", line)
	}
	metrics := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if metrics["Namespace"] != "CorralTest" {
		t.Errorf("namespace %v", metrics["Namespace"])
	}
	for _, m := range metrics["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := line[name]; !ok {
			t.Errorf("metric %s declared but absent from the line", name)
		}
	}
	for k, want := range map[string]any{"tenant": tn.ID, "user": tn.OwnerID, "route": "GET /whoami", "status": float64(200), "function": "test"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if line["request_id"] == "" || line["request_id"] == nil {
		t.Error("no request_id")
	}
}

// Requests that fail authentication are limited per client IP, so tokens cannot be probed without end.
func TestFailedAuthenticationIsRateLimitedPerIP(t *testing.T) {
	t.Parallel()
	_, _, h := newServer(t)
	from := func(ip string) *http.Request {
		r := req("GET", "/whoami", "")
		r.RemoteAddr = ip + ":4444"
		r.Header.Set("Authorization", "Bearer forged")
		return r
	}
	var last *platformtest.Response
	for i := range 25 {
		last = platformtest.Do(t, h, from("198.51.100.7"), "")
		if last.Status == http.StatusTooManyRequests {
			if i < 20 {
				t.Fatalf("limited after %d failures, burst is 20", i)
			}
			break
		}
		last.Problem(t, http.StatusUnauthorized)
	}
	last.Problem(t, http.StatusTooManyRequests)
	if last.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Another address is not affected.
	platformtest.Do(t, h, from("198.51.100.8"), "").Problem(t, http.StatusUnauthorized)
}
