package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// fakeAPI answers the journey's routes like Corral would, and 429 to every other request of the probe
// user. It stands in for the API only to test the rig's mechanics; `make load` runs against the real one.
func fakeAPI(t testing.TB) *httptest.Server {
	t.Helper()
	var probes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /horses", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer probe" && probes.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprintf(w, `{"items":[{"id":%q}],"next_cursor":"x"}`, uuid.NewString())
	})
	mux.HandleFunc("GET /horses/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	mux.HandleFunc("POST /horses", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, uuid.NewString())
	})
	mux.HandleFunc("PATCH /horses/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunJourneySmoke(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t)
	tenant := uuid.NewString()
	probe := &User{ID: uuid.NewString(), TenantID: tenant, Token: "probe"}
	cfg := DefaultJourney
	cfg.ProbeChance = 0.5
	res, err := Run(context.Background(), Options{
		BaseURL: srv.URL, VUs: 4, Duration: 300 * time.Millisecond, ThinkMin: time.Millisecond, ThinkMax: 3 * time.Millisecond,
		NewScript: func(vu int, rng *rand.Rand) Script {
			u := &User{ID: uuid.NewString(), TenantID: tenant}
			return NewJourney(cfg, rng, u, probe, devLogin, nil)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Recorder.Summarize(res.Duration, 100*time.Millisecond, res.VUsAt)
	if sum.Journey.Requests == 0 || sum.Journey.Errors != 0 {
		t.Errorf("journey = %+v; want requests and no errors", sum.Journey)
	}
	for _, c := range []Class{ClassRead, ClassWrite} {
		if sum.Classes[c].Requests == 0 {
			t.Errorf("no %s requests", c)
		}
	}
	if p := sum.Classes[ClassProbe]; p.Requests > 0 && p.Errors != 0 {
		t.Errorf("probe class = %+v; its 429s must not count as errors", p)
	}
	if len(sum.Windows) != 3 {
		t.Errorf("%d windows, want 3", len(sum.Windows))
	}
}

func TestRunCountsTransportErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	users := []*User{{ID: uuid.NewString(), TenantID: "t", Token: "x"}}
	res, err := Run(context.Background(), Options{
		BaseURL: "http://" + addr, VUs: 1, Duration: 50 * time.Millisecond, ThinkMin: 5 * time.Millisecond, ThinkMax: 5 * time.Millisecond,
		NewScript: func(_ int, rng *rand.Rand) Script {
			return NewSaturation(rng, RouteItem, users, 0, map[string][]string{"t": {uuid.NewString()}}, nil)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Recorder.Summarize(res.Duration, 0, nil)
	if sum.Journey.Requests == 0 || sum.Journey.Errors != sum.Journey.Requests {
		t.Fatalf("journey = %+v; want every request an error", sum.Journey)
	}
	for reason := range sum.Journey.Reasons {
		if !strings.Contains(reason, "transport: connection refused") {
			t.Errorf("reason %q, want connection refused", reason)
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := Run(context.Background(), Options{BaseURL: "http://x", VUs: 1, Duration: time.Second}); err == nil {
		t.Error("Run without NewScript: no error")
	}
}

func TestCPUBetween(t *testing.T) {
	t.Parallel()
	a := TakeCPU(nil)
	x := 0
	for i := range 20_000_000 {
		x += i % 7
	}
	_ = x
	b := TakeCPU(nil)
	u := CPUBetween(a, b)
	if u.Cores <= 0 || u.Generator < 0 || u.GeneratorShare > 1.0001 {
		t.Errorf("CPUBetween = %+v", u)
	}
}
