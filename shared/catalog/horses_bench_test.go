package catalog_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// The horses function's whole chain on the real Redis and Postgres, one request at a time, as a Lambda
// environment serves them: the saturation rig's routes (GET /horses/{id}; POST /horses and
// PATCH /horses/{id}, each with a fresh Idempotency-Key). The routes' rate limits are raised so the loop
// is never limited; the Redis call is still made. ns/op includes the database round trip; B/op and
// allocs/op are the Go side's.
//
//	go test -run '^$' -bench HorsesChain -benchmem ./shared/catalog/
func BenchmarkHorsesChain(b *testing.B) {
	env := platformtest.New(b)
	env.Deps.Log = logging.New(io.Discard, slog.LevelInfo, "bench")
	routes := catalog.Horses(env.Deps)
	for i := range routes {
		routes[i].Policy = ratelimit.Policy{Name: routes[i].Policy.Name, Rate: 1_000_000, Period: time.Second, Burst: 1_000_000, Scope: ratelimit.ScopeUser}
	}
	h := platform.Handler(env.Deps, routes)
	tn := env.NewTenant(b, "bench")
	tok := "Bearer " + env.Token(b, tn.ID, tn.OwnerID, "owner")
	keys := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	n := 0
	serve := func(method, path, body string, want int) []byte {
		var r *http.Request
		if body == "" {
			r = httptest.NewRequest(method, path, nil)
		} else {
			r = httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			n++
			r.Header.Set("Idempotency-Key", keys+strconv.Itoa(n))
		}
		r.Header.Set("Authorization", tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("%s %s: status %d: %s", method, path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(serve("POST", "/horses", `{"name":"Bench","sex":"mare"}`, http.StatusCreated), &created); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			serve("GET", "/horses/"+created.ID, "", http.StatusOK)
		}
	})
	b.Run("post", func(b *testing.B) {
		for b.Loop() {
			serve("POST", "/horses", `{"name":"Load 1234","sex":"mare"}`, http.StatusCreated)
		}
	})
	b.Run("patch", func(b *testing.B) {
		for b.Loop() {
			serve("PATCH", "/horses/"+created.ID, `{"description":"Saturation 123456"}`, http.StatusOK)
		}
	})
}
