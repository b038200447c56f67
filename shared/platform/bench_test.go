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
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// benchWriter is a ResponseWriter that keeps only its headers and status, so that the benchmark measures
// the chain and not a recorder.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// The middleware chain on the real Redis and Postgres: request id, access log (to io.Discard), recover,
// CORS, body limit, authentication (cached token), rate limit and, for writes, idempotency (Postgres).
// The handler answers 204 and does nothing else, and the request and writer are reused, so ns/op and
// allocs/op are the chain's own overhead.
//
//	go test -run '^$' -bench Chain -benchmem ./shared/platform/
func BenchmarkChain(b *testing.B) {
	env := platformtest.New(b)
	env.Deps.Log = logging.New(io.Discard, slog.LevelInfo, "bench")
	huge := ratelimit.Policy{Name: "bench", Rate: 1_000_000, Period: time.Second, Burst: 1_000_000, Scope: ratelimit.ScopeUser}
	noContent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := platform.Handler(env.Deps, []platform.Route{
		{Pattern: "GET /read", Handler: noContent, Policy: huge},
		{Pattern: "POST /write", Handler: noContent, Policy: huge, Idempotency: platform.IdempotencyOptional},
	})
	tn := env.NewTenant(b, "bench")
	tok := "Bearer " + env.Token(b, tn.ID, tn.OwnerID, auth.RoleOwner)

	run := func(b *testing.B, r *http.Request, key func(i int) string) {
		b.Helper()
		w := &benchWriter{h: http.Header{}}
		serve := func(i int) {
			clear(w.h)
			w.code = 0
			if key != nil {
				r.Header.Set("Idempotency-Key", key(i))
			}
			h.ServeHTTP(w, r)
			if w.code >= 300 {
				b.Fatalf("status %d", w.code)
			}
		}
		serve(-1) // warm: token cache, statement cache, connections
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			serve(i)
			i++
		}
	}
	request := func(method string) *http.Request {
		r := httptest.NewRequest(method, "/"+map[string]string{"GET": "read", "POST": "write"}[method], nil)
		r.Header.Set("Authorization", tok)
		return r
	}
	b.Run("read", func(b *testing.B) { run(b, request("GET"), nil) })
	b.Run("write-no-key", func(b *testing.B) { run(b, request("POST"), nil) })
	b.Run("write-new-key", func(b *testing.B) {
		base := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
		run(b, request("POST"), func(i int) string { return base + strconv.Itoa(i) })
	})
	b.Run("write-replay", func(b *testing.B) {
		run(b, request("POST"), func(int) string { return "replayed" })
	})
}
