package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rocker-app/corral/shared/health"
	"github.com/rocker-app/corral/shared/logging"
)

// checkTimeout is the per-check timeout handed to Handler; hangTimeout is how long a test waits for an
// answer before calling it a hang.
const (
	checkTimeout = 50 * time.Millisecond
	hangTimeout  = 20 * time.Second
)

const secret = "dial tcp 10.9.8.7:5432: password authentication failed for user corral_owner"

func ok(context.Context) error { return nil }

func failing(context.Context) error { return errors.New(secret) }

// waitsForContext hangs until its context ends, as a ping to an unresponsive host does.
func waitsForContext(ctx context.Context) error {
	<-ctx.Done()
	return errors.New(secret + ": " + ctx.Err().Error())
}

// ignoresContext returns a check that hangs until the test ends, whatever its context says.
func ignoresContext(tb testing.TB) health.Check {
	release := make(chan struct{})
	tb.Cleanup(func() { close(release) })
	return func(context.Context) error {
		<-release
		return errors.New(secret)
	}
}

// get serves GET /health and returns the status, the decoded report, the raw body and the log.
func get(tb testing.TB, h http.Handler) (int, health.Report, string, string) {
	tb.Helper()
	var logs bytes.Buffer
	r := httptest.NewRequest(http.MethodGet, "/health", nil)
	r = r.WithContext(logging.WithLogger(r.Context(), logging.New(&logs, slog.LevelDebug, "test")))
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, r)
	}()
	select {
	case <-done:
	case <-time.After(hangTimeout):
		tb.Fatalf("Handler did not answer within %s", hangTimeout)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		tb.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var rep health.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		tb.Fatalf("body %q: %v", rec.Body, err)
	}
	return rec.Code, rep, rec.Body.String(), logs.String()
}

func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		checks     func(testing.TB) map[string]health.Check
		wantStatus int
		want       health.Report
	}{
		{
			name:       "all pass",
			checks:     func(testing.TB) map[string]health.Check { return map[string]health.Check{"postgres": ok, "redis": ok} },
			wantStatus: http.StatusOK,
			want: health.Report{Status: "ok", Checks: map[string]health.CheckResult{
				"postgres": {Status: "ok"}, "redis": {Status: "ok"},
			}},
		},
		{
			name:       "no checks",
			checks:     func(testing.TB) map[string]health.Check { return nil },
			wantStatus: http.StatusOK,
			want:       health.Report{Status: "ok", Checks: map[string]health.CheckResult{}},
		},
		{
			name: "one fails, one waits past the timeout",
			checks: func(testing.TB) map[string]health.Check {
				return map[string]health.Check{"postgres": failing, "redis": waitsForContext, "queue": ok}
			},
			wantStatus: http.StatusServiceUnavailable,
			want: health.Report{Status: "degraded", Checks: map[string]health.CheckResult{
				"postgres": {Status: "down", Error: "unreachable"},
				"redis":    {Status: "down", Error: "timed out"},
				"queue":    {Status: "ok"},
			}},
		},
		{
			name: "one fails, one ignores its context",
			checks: func(tb testing.TB) map[string]health.Check {
				return map[string]health.Check{"postgres": failing, "redis": ignoresContext(tb)}
			},
			wantStatus: http.StatusServiceUnavailable,
			want: health.Report{Status: "degraded", Checks: map[string]health.CheckResult{
				"postgres": {Status: "down", Error: "unreachable"},
				"redis":    {Status: "down", Error: "timed out"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, rep, body, logs := get(t, health.Handler(tt.checks(t), checkTimeout))
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.want, rep, cmpopts.IgnoreFields(health.CheckResult{}, "LatencyMS")); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			for name, res := range rep.Checks {
				if res.LatencyMS < 0 {
					t.Errorf("check %s latency %v ms", name, res.LatencyMS)
				}
			}
			for _, leak := range []string{"10.9.8.7", "corral_owner", "password"} {
				if strings.Contains(body, leak) {
					t.Errorf("body %s leaks %q", body, leak)
				}
			}
			if tt.wantStatus != http.StatusOK && !strings.Contains(logs, "corral_owner") {
				t.Errorf("the failing check's cause was not logged:\n%s", logs)
			}
		})
	}
}

func TestHandlerChecksRunInParallel(t *testing.T) {
	t.Parallel()
	// Each check waits until the other has started: run one after the other, both would time out.
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	meet := func(mine, theirs chan struct{}) health.Check {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-theirs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	h := health.Handler(map[string]health.Check{"a": meet(aStarted, bStarted), "b": meet(bStarted, aStarted)}, hangTimeout)
	status, rep, _, _ := get(t, h)
	if status != http.StatusOK {
		t.Errorf("status = %d, want 200: %+v", status, rep)
	}
}
