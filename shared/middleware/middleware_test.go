package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/middleware"
)

// gatewayEvent is an HTTP API payload v2 event as API Gateway sends it.
func gatewayEvent(method, path, requestID, sourceIP string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: method + " " + path,
		RawPath:  path,
		Headers:  map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID:  requestID,
			DomainName: "api.example.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: sourceIP,
			},
		},
	}
}

// serveLambda sends ev through lambdax.HTTP to h and writes the answer to a recorder, as the client sees it.
func serveLambda(tb testing.TB, h http.Handler, ev events.APIGatewayV2HTTPRequest) *httptest.ResponseRecorder {
	tb.Helper()
	resp, err := lambdax.HTTP(h)(context.Background(), ev)
	if err != nil {
		tb.Fatalf("lambdax.HTTP: %v", err)
	}
	rec := httptest.NewRecorder()
	if err := lambdax.WriteResponse(rec, resp); err != nil {
		tb.Fatalf("WriteResponse: %v", err)
	}
	return rec
}

// readProblem decodes a problem+json answer, failing the test on any other kind of body.
func readProblem(tb testing.TB, rec *httptest.ResponseRecorder) httpapi.Problem {
	tb.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, rec.Body)
	}
	var p httpapi.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatalf("problem body %q: %v", rec.Body, err)
	}
	return p
}

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var order []string
	named := func(name string) middleware.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name+">")
				next.ServeHTTP(w, r)
				order = append(order, "<"+name)
			})
		}
	}
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "handler") })
	tests := []struct {
		name  string
		chain middleware.Middleware
		want  []string
	}{
		{"empty", middleware.Chain(), []string{"handler"}},
		{"one", middleware.Chain(named("a")), []string{"a>", "handler", "<a"}},
		{"first is outermost", middleware.Chain(named("a"), named("b"), named("c")),
			[]string{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}},
		{"nested chains", middleware.Chain(named("a"), middleware.Chain(named("b"), named("c"))),
			[]string{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order = nil
			tt.chain(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if diff := cmp.Diff(tt.want, order); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
	// Chain(m1, m2)(h) is m1(m2(h)).
	order = nil
	named("a")(named("b")(h)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	direct := order
	order = nil
	middleware.Chain(named("a"), named("b"))(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if diff := cmp.Diff(direct, order); diff != "" {
		t.Errorf("Chain(a, b)(h) differs from a(b(h)) (-direct +chain):\n%s", diff)
	}
}

// requestIDEcho answers with the request id the context carries.
var requestIDEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, httpapi.RequestID(r.Context()))
})

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestIDFromGateway(t *testing.T) {
	t.Parallel()
	ev := gatewayEvent(http.MethodGet, "/horses", "gw-Jx1bGh4", "203.0.113.9")
	ev.Headers["x-request-id"] = "client-chosen"
	rec := serveLambda(t, middleware.RequestID()(requestIDEcho), ev)
	if got := rec.Header().Get(middleware.RequestIDHeader); got != "gw-Jx1bGh4" {
		t.Errorf("X-Request-Id = %q, want API Gateway's gw-Jx1bGh4", got)
	}
	if got := rec.Body.String(); got != "gw-Jx1bGh4" {
		t.Errorf("context request id = %q, want gw-Jx1bGh4", got)
	}
}

func TestRequestIDGenerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		serve func(testing.TB) *httptest.ResponseRecorder
	}{
		{"outside Lambda", func(tb testing.TB) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/horses", nil)
			r.Header.Set(middleware.RequestIDHeader, "client-chosen")
			rec := httptest.NewRecorder()
			middleware.RequestID()(requestIDEcho).ServeHTTP(rec, r)
			return rec
		}},
		{"gateway without a request id", func(tb testing.TB) *httptest.ResponseRecorder {
			ev := gatewayEvent(http.MethodGet, "/horses", "", "203.0.113.9")
			ev.Headers["x-request-id"] = "client-chosen"
			return serveLambda(tb, middleware.RequestID()(requestIDEcho), ev)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first, second := tt.serve(t), tt.serve(t)
			id := first.Header().Get(middleware.RequestIDHeader)
			if !generatedID.MatchString(id) {
				t.Fatalf("X-Request-Id = %q, want 32 hex digits (a client-supplied id is never used)", id)
			}
			if got := first.Body.String(); got != id {
				t.Errorf("context request id = %q, header %q: want the same", got, id)
			}
			if other := second.Header().Get(middleware.RequestIDHeader); other == id {
				t.Errorf("two requests got the same id %q", id)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 16
	type note struct {
		Text string `json:"text"`
	}
	decodeNote := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := httpapi.Decode[note](r, 1<<20) // the handler's own limit is larger: BodyLimit must win
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, n)
	})
	small := `{"text":"hi"}`           // 13 bytes
	exact := `{"text":"hello!"}`       // 17 bytes: over by one
	large := `{"text":"hello world!"}` // 23 bytes
	tests := []struct {
		name       string
		body       string
		chunked    bool
		wantStatus int
		wantBody   string
	}{
		{name: "declared, within", body: small, wantStatus: http.StatusOK, wantBody: small + "\n"},
		{name: "declared, over by one", body: exact, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "declared, over", body: large, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "chunked, within", body: small, chunked: true, wantStatus: http.StatusOK, wantBody: small + "\n"},
		{name: "chunked, over", body: large, chunked: true, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: ContentLength is -1
			}
			r := httptest.NewRequest(http.MethodPost, "/notes", body)
			r.Header.Set("Content-Type", "application/json")
			if tt.chunked != (r.ContentLength == -1) {
				t.Fatalf("ContentLength = %d; the test does not send what it means to", r.ContentLength)
			}
			rec := httptest.NewRecorder()
			middleware.BodyLimit(limit)(decodeNote).ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == http.StatusRequestEntityTooLarge {
				if p := readProblem(t, rec); p.Type != httpapi.ProblemTypeBase+string(httpapi.CodeTooLarge) {
					t.Errorf("problem type = %q, want too-large", p.Type)
				}
				return
			}
			if rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
			}
		})
	}
}

func TestBodyLimitRefusesDeclaredBodyUnread(t *testing.T) {
	t.Parallel()
	called := false
	h := middleware.BodyLimit(4)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345")))
	if called {
		t.Error("the handler ran for a body declared over the limit")
	}
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", rec.Code)
	}
}

func TestBodyLimitChunkedReadFails(t *testing.T) {
	t.Parallel()
	var readErr error
	var n int
	h := middleware.BodyLimit(4)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		b, readErr = io.ReadAll(r.Body)
		n = len(b)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("123456789"))))
	var tooLarge *http.MaxBytesError
	if !errors.As(readErr, &tooLarge) || tooLarge.Limit != 4 {
		t.Errorf("reading a chunked body over the limit: err %v, want *http.MaxBytesError with limit 4", readErr)
	}
	if n > 4 {
		t.Errorf("the handler read %d bytes past a 4-byte limit", n)
	}
}

func TestBodyLimitWithoutBody(t *testing.T) {
	t.Parallel()
	called := false
	h := middleware.BodyLimit(4)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = r.Body == http.NoBody
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !called {
		t.Error("a request without a body did not reach the handler with http.NoBody")
	}
}

func TestRecover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		panicky any
		leak    string
	}{
		{"string", "boom: secret-db-password", "secret-db-password"},
		{"error", fmt.Errorf("nil map write at 10.0.0.7"), "10.0.0.7"},
		{"number", 42, "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := middleware.Recover()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tt.panicky) }))
			r := httptest.NewRequest(http.MethodGet, "/horses", nil)
			ctx := httpapi.WithRequestID(r.Context(), "req-7")
			r = r.WithContext(logging.WithLogger(ctx, logging.New(&logs, slog.LevelDebug, "test")))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			want := httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "internal", Title: "Internal Server Error", Status: 500,
				Detail: "internal error", Instance: "/horses", RequestID: "req-7",
			}
			if diff := cmp.Diff(want, readProblem(t, rec)); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if strings.Contains(rec.Body.String(), tt.leak) {
				t.Errorf("body %s shows the panic value", rec.Body)
			}
			if !strings.Contains(logs.String(), tt.leak) || !strings.Contains(logs.String(), "middleware_test") {
				t.Errorf("log lacks the panic value or its stack:\n%s", logs.String())
			}
		})
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    error
	}{
		{"ErrAbortHandler", http.ErrAbortHandler},
		{"wrapped", fmt.Errorf("client went away: %w", http.ErrAbortHandler)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := middleware.Recover()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tt.v) }))
			rec := httptest.NewRecorder()
			got := func() (v any) {
				defer func() { v = recover() }()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				return nil
			}()
			if err, ok := got.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
				t.Errorf("recovered %v, want the ErrAbortHandler panic to continue", got)
			}
			if rec.Body.Len() > 0 {
				t.Errorf("an aborted response got a body: %s", rec.Body)
			}
		})
	}
}

func TestRecoverPassesThrough(t *testing.T) {
	t.Parallel()
	h := middleware.Recover()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("status = %d, want 418", rec.Code)
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		remoteAddr string
		want       string
	}{
		{"IPv4 with port", "192.0.2.1:52113", "192.0.2.1"},
		{"IPv6 with port", "[2001:db8::1]:443", "2001:db8::1"},
		{"without port", "192.0.2.5", "192.0.2.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remoteAddr
			r.Header.Set("X-Forwarded-For", "1.2.3.4")
			r.Header.Set("X-Real-Ip", "5.6.7.8")
			if got := middleware.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClientIPPrefersGateway(t *testing.T) {
	t.Parallel()
	ev := gatewayEvent(http.MethodGet, "/", "req-1", "203.0.113.9")
	ev.Headers["x-forwarded-for"] = "1.2.3.4, 203.0.113.9"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "10.0.0.1:5000" // what a hop inside the platform might leave there
		_, _ = io.WriteString(w, middleware.ClientIP(r))
	})
	if got := serveLambda(t, h, ev).Body.String(); got != "203.0.113.9" {
		t.Errorf("ClientIP = %q, want the gateway's sourceIp 203.0.113.9", got)
	}
}
