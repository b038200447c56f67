package platform_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/holdproxy"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/syncbuf"
)

// settleDeps builds a function's Deps whose Postgres connections wait behind a holding proxy, and the
// Lambda handler of one authenticated route.
func settleDeps(t *testing.T, logs *syncbuf.Buffer) (*platform.Deps, *holdproxy.Proxy, lambdax.HTTPFunc) {
	t.Helper()
	env := platformtest.New(t)
	cfg := env.Deps.Config
	var pg *holdproxy.Proxy
	cfg.DatabaseURL, pg = holdproxy.Via(t, cfg.DatabaseURL)
	d, err := platform.NewDeps(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.Release()
		d.Close()
	})
	policy := ratelimit.Policy{Name: "t.settle", Rate: 1000, Period: time.Minute, Scope: ratelimit.ScopeUser}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return d, pg, platform.LambdaHTTP(d, []platform.Route{{Pattern: "GET /things", Policy: policy, Handler: ok}})
}

// thingsEvent is API Gateway's event for GET /things with the given authorization header.
func thingsEvent(t *testing.T, authorization string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/things", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	ev, err := lambdax.EventFromRequest(r, "GET /things", nil, "203.0.113.9", "req-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// In Lambda an invocation's audit events are written before its response goes back: the environment may
// be frozen as soon as it does, and ended without notice (functions register no SIGTERM extension).
func TestLambdaInvocationReturnsAfterItsAuditEventIsWritten(t *testing.T) {
	t.Parallel()
	d, pg, h := settleDeps(t, &syncbuf.Buffer{})
	type result struct {
		res events.APIGatewayV2HTTPResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := h(context.Background(), thingsEvent(t, "Bearer not-a-token")) // 401, audited
		done <- result{res, err}
	}()
	// The insert waits behind the proxy: so must the response. The release comes early in the flush's
	// 300 ms, which leaves the rest of them for the connection and the insert.
	select {
	case r := <-done:
		t.Fatalf("the invocation returned (status %d, %v) while its audit event could not be written; stats %+v",
			r.res.StatusCode, r.err, d.Audit.Stats())
	case <-time.After(20 * time.Millisecond): // without settle it returns within a millisecond or two
	}
	pg.Release()
	r := <-done
	if r.err != nil || r.res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("invocation: status %d, %v; want 401", r.res.StatusCode, r.err)
	}
	if st := d.Audit.Stats(); st != (audit.Stats{Written: 1}) {
		t.Errorf("audit stats when the response returned: %+v, want the event written", st)
	}
}

// An invocation whose audit events could not be written in time returns after the flush's bound with one
// warning that gives the audit counts; once the events are written, invocations say nothing more.
func TestLambdaInvocationReportsUnwrittenAuditEvents(t *testing.T) {
	t.Parallel()
	logs := &syncbuf.Buffer{}
	d, pg, h := settleDeps(t, logs)
	warnings := func() []string {
		var out []string
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, `"msg":"audit events not written"`) {
				out = append(out, l)
			}
		}
		return out
	}

	// Nothing recorded: no wait, though Postgres is unreachable, and no word.
	notFound := thingsEvent(t, "")
	notFound.RouteKey, notFound.RawPath, notFound.RequestContext.HTTP.Path = "GET /nothing", "/nothing", "/nothing"
	if res, err := h(context.Background(), notFound); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("unaudited invocation: status %d, %v; want 404", res.StatusCode, err)
	}
	if w := warnings(); len(w) != 0 {
		t.Fatalf("warnings after an unaudited invocation: %q", w)
	}

	if _, err := h(context.Background(), thingsEvent(t, "Bearer not-a-token")); err != nil {
		t.Fatal(err)
	}
	w := warnings()
	if len(w) != 1 || !strings.Contains(w[0], `"level":"WARN"`) || !strings.Contains(w[0], `"audit_written":0`) ||
		!strings.Contains(w[0], "deadline exceeded") {
		t.Fatalf("after an invocation whose audit event is held: warnings %q, want one with the counts and the flush's error", w)
	}

	// Postgres answers again and the held event is written (the writer's own 5 s bound, not the flush's
	// 300 ms, so a slow machine does not fail the test): later invocations report nothing.
	pg.Release()
	if !eventually(10*time.Second, func() bool { return d.Audit.Stats().Written == 1 }) {
		t.Fatalf("audit stats after Postgres came back: %+v, want the held event written", d.Audit.Stats())
	}
	if res, err := h(context.Background(), notFound); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("unaudited invocation: status %d, %v; want 404", res.StatusCode, err)
	}
	if st := d.Audit.Stats(); st != (audit.Stats{Written: 1}) {
		t.Errorf("audit stats: %+v, want the one event written", st)
	}
	if got := warnings(); len(got) != 1 {
		t.Errorf("warnings once the event was written: %q, want only the first", got)
	}
}
