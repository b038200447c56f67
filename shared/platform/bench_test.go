package platform_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// The middleware chain on the real Redis and Postgres: request id, access log (to io.Discard), recover,
// CORS, body limit, authentication (cached token), rate limit (Redis round trip) and, for writes,
// idempotency (Postgres). The handler itself does nothing.
//
//	go test -run '^$' -bench Chain -benchmem ./shared/platform/
func BenchmarkChain(b *testing.B) {
	env := platformtest.New(b)
	env.Deps.Log = logging.New(io.Discard, slog.LevelInfo, "bench")
	huge := ratelimit.Policy{Name: "bench", Rate: 1_000_000, Period: time.Second, Burst: 1_000_000, Scope: ratelimit.ScopeUser}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, r, http.StatusOK, struct {
			OK bool `json:"ok"`
		}{true})
	})
	h := platform.Handler(env.Deps, []platform.Route{
		{Pattern: "GET /read", Handler: ok, Policy: huge},
		{Pattern: "POST /write", Handler: ok, Policy: huge, Idempotency: platform.IdempotencyOptional},
	})
	tn := env.NewTenant(b, "bench")
	tok := "Bearer " + env.Token(b, tn.ID, tn.OwnerID, auth.RoleOwner)

	run := func(b *testing.B, req func(i int) *http.Request) {
		b.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req(-1)) // warm: token cache, statement cache, connections
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req(i))
			if w.Code >= 300 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			i++
		}
	}
	b.Run("read", func(b *testing.B) {
		run(b, func(int) *http.Request {
			r := httptest.NewRequest("GET", "/read", nil)
			r.Header.Set("Authorization", tok)
			return r
		})
	})
	b.Run("write-no-key", func(b *testing.B) {
		run(b, func(int) *http.Request {
			r := httptest.NewRequest("POST", "/write", nil)
			r.Header.Set("Authorization", tok)
			return r
		})
	})
	b.Run("write-new-key", func(b *testing.B) {
		base := strconv.FormatInt(time.Now().UnixNano(), 36)
		run(b, func(i int) *http.Request {
			r := httptest.NewRequest("POST", "/write", nil)
			r.Header.Set("Authorization", tok)
			r.Header.Set("Idempotency-Key", base+"-"+strconv.Itoa(i))
			return r
		})
	})
	b.Run("write-replay", func(b *testing.B) {
		run(b, func(int) *http.Request {
			r := httptest.NewRequest("POST", "/write", nil)
			r.Header.Set("Authorization", tok)
			r.Header.Set("Idempotency-Key", "replayed")
			return r
		})
	})
}
