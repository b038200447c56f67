package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/logging"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code httpapi.Code
		want int
	}{
		{httpapi.CodeInvalid, http.StatusBadRequest},
		{httpapi.CodeIdempotencyKeyNeeded, http.StatusBadRequest},
		{httpapi.CodeUnauthorized, http.StatusUnauthorized},
		{httpapi.CodeForbidden, http.StatusForbidden},
		{httpapi.CodeMFARequired, http.StatusForbidden},
		{httpapi.CodeCSRFFailed, http.StatusForbidden},
		{httpapi.CodeNotFound, http.StatusNotFound},
		{httpapi.CodeMethodNotAllowed, http.StatusMethodNotAllowed},
		{httpapi.CodeConflict, http.StatusConflict},
		{httpapi.CodeTooLarge, http.StatusRequestEntityTooLarge},
		{httpapi.CodeUnsupportedMedia, http.StatusUnsupportedMediaType},
		{httpapi.CodeUnprocessable, http.StatusUnprocessableEntity},
		{httpapi.CodeRateLimited, http.StatusTooManyRequests},
		{httpapi.CodeUnavailable, http.StatusServiceUnavailable},
		{httpapi.CodeInternal, http.StatusInternalServerError},
		{httpapi.Code("no-such-code"), http.StatusInternalServerError},
		{httpapi.Code(""), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			t.Parallel()
			if got := httpapi.Status(tt.code); got != tt.want {
				t.Errorf("Status(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// problemResponse is what a client reads back from WriteError.
type problemResponse struct {
	status  int
	header  http.Header
	body    string
	problem httpapi.Problem
}

// writeError runs WriteError for a request to path carrying requestID, and returns the response and what was
// logged through the request's logger.
func writeError(tb testing.TB, path, requestID string, err error) (problemResponse, string) {
	tb.Helper()
	var logs bytes.Buffer
	r := httptest.NewRequest(http.MethodGet, path, nil)
	ctx := httpapi.WithRequestID(r.Context(), requestID)
	ctx = logging.WithLogger(ctx, logging.New(&logs, slog.LevelDebug, "test"))
	w := httptest.NewRecorder()
	httpapi.WriteError(w, r.WithContext(ctx), err)
	return readProblem(tb, w), logs.String()
}

func readProblem(tb testing.TB, w *httptest.ResponseRecorder) problemResponse {
	tb.Helper()
	res := problemResponse{status: w.Code, header: w.Header(), body: w.Body.String()}
	dec := json.NewDecoder(strings.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res.problem); err != nil {
		tb.Fatalf("problem body %q: %v", res.body, err)
	}
	return res
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	const secret = "dial tcp 10.1.2.3:5432: password authentication failed for user corral_owner"
	tests := []struct {
		name       string
		err        error
		want       httpapi.Problem
		wantLogged bool
	}{
		{
			name: "invalid with fields",
			err:  httpapi.Invalid(httpapi.FieldProblem{Field: "name", Reason: "is required"}),
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "invalid", Title: "Bad Request", Status: 400,
				Detail: "the request has invalid fields", Instance: "/horses/7", RequestID: "req-1",
				Errors: []httpapi.FieldProblem{{Field: "name", Reason: "is required"}},
			},
		},
		{
			name: "not found",
			err:  httpapi.ErrNotFound,
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "not-found", Title: "Not Found", Status: 404,
				Detail: "not found", Instance: "/horses/7", RequestID: "req-1",
			},
		},
		{
			name: "wrapped *Error keeps its code",
			err:  fmt.Errorf("load horse: %w", httpapi.Errorf(httpapi.CodeConflict, "the horse changed")),
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "conflict", Title: "Conflict", Status: 409,
				Detail: "the horse changed", Instance: "/horses/7", RequestID: "req-1",
			},
		},
		{
			name: "internal cause hidden",
			err:  httpapi.Internal(errors.New(secret)),
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "internal", Title: "Internal Server Error", Status: 500,
				Detail: "internal error", Instance: "/horses/7", RequestID: "req-1",
			},
			wantLogged: true,
		},
		{
			name: "plain error becomes internal",
			err:  errors.New(secret),
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "internal", Title: "Internal Server Error", Status: 500,
				Detail: "internal error", Instance: "/horses/7", RequestID: "req-1",
			},
			wantLogged: true,
		},
		{
			name: "unavailable with a hidden cause",
			err:  &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "try again", Err: errors.New(secret)},
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "unavailable", Title: "Service Unavailable", Status: 503,
				Detail: "try again", Instance: "/horses/7", RequestID: "req-1",
			},
			wantLogged: true,
		},
		{
			name: "client error with a hidden cause",
			err:  &httpapi.Error{Code: httpapi.CodeUnauthorized, Message: "the bearer token is not valid", Err: errors.New(secret)},
			want: httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "unauthorized", Title: "Unauthorized", Status: 401,
				Detail: "the bearer token is not valid", Instance: "/horses/7", RequestID: "req-1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, logs := writeError(t, "/horses/7", "req-1", tt.err)
			if res.status != tt.want.Status {
				t.Errorf("status = %d, want %d", res.status, tt.want.Status)
			}
			if diff := cmp.Diff(tt.want, res.problem); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if !strings.HasSuffix(res.problem.Type, "/"+string(httpapi.AsError(tt.err).Code)) {
				t.Errorf("type %q does not end with the code", res.problem.Type)
			}
			if got := res.header.Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", got)
			}
			if got, want := res.header.Get("Content-Length"), strconv.Itoa(len(res.body)); got != want {
				t.Errorf("Content-Length = %s, want %s", got, want)
			}
			if got := res.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			for _, leak := range []string{"10.1.2.3", "corral_owner", "password"} {
				if strings.Contains(res.body, leak) {
					t.Errorf("body %s leaks %q", res.body, leak)
				}
			}
			if logged := strings.Contains(logs, "corral_owner"); logged != tt.wantLogged {
				t.Errorf("cause logged = %v, want %v; log: %s", logged, tt.wantLogged, logs)
			}
		})
	}
}

func TestWriteErrorWithoutRequestID(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	httpapi.WriteError(w, httptest.NewRequest(http.MethodGet, "/x", nil), httpapi.ErrNotFound)
	res := readProblem(t, w)
	if strings.Contains(res.body, "request_id") {
		t.Errorf("body %s has a request_id though the context has none", res.body)
	}
}

func TestWriteErrorRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		after time.Duration
		want  string // "" for no header
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Nanosecond, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{1500 * time.Millisecond, "2"},
		{2 * time.Second, "2"},
		{59*time.Second + 1, "60"},
		{time.Hour, "3600"},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			t.Parallel()
			err := &httpapi.Error{Code: httpapi.CodeRateLimited, Message: "slow down", RetryAfter: tt.after}
			res, _ := writeError(t, "/", "", err)
			if res.status != http.StatusTooManyRequests {
				t.Errorf("status = %d, want 429", res.status)
			}
			got, ok := res.header["Retry-After"]
			switch {
			case tt.want == "" && ok:
				t.Errorf("Retry-After = %q, want none", got)
			case tt.want != "" && res.header.Get("Retry-After") != tt.want:
				t.Errorf("Retry-After = %q, want %q", res.header.Get("Retry-After"), tt.want)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	type horse struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, httptest.NewRequest(http.MethodPost, "/horses", nil), http.StatusCreated, horse{ID: "h1", Name: "Bess"})
	if w.Code != http.StatusCreated {
		t.Errorf("status = %d, want 201", w.Code)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want {
		t.Errorf("Content-Length = %s, body has %s bytes", got, want)
	}
	if diff := cmp.Diff("{\"id\":\"h1\",\"name\":\"Bess\"}\n", w.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
	}{
		{"channel", make(chan int)},
		{"function", func() {}},
		{"+Inf", math.Inf(1)},
		{"NaN inside a struct", struct {
			Score float64 `json:"score"`
		}{math.NaN()}},
		{"channel in a map", map[string]any{"ok": 1, "bad": make(chan int)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			r := httptest.NewRequest(http.MethodGet, "/horses", nil)
			r = r.WithContext(logging.WithLogger(httpapi.WithRequestID(r.Context(), "req-9"), logging.New(&logs, slog.LevelDebug, "test")))
			w := httptest.NewRecorder()
			httpapi.WriteJSON(w, r, http.StatusOK, tt.v)
			res := readProblem(t, w)
			want := httpapi.Problem{
				Type: httpapi.ProblemTypeBase + "internal", Title: "Internal Server Error", Status: 500,
				Detail: "internal error", Instance: "/horses", RequestID: "req-9",
			}
			if res.status != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.status)
			}
			if diff := cmp.Diff(want, res.problem); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if strings.Contains(res.body, "json:") || strings.Contains(res.body, "unsupported") {
				t.Errorf("body %s leaks the encoding error", res.body)
			}
			if !strings.Contains(logs.String(), "unsupported") {
				t.Errorf("the encoding error was not logged: %s", logs.String())
			}
		})
	}
}

func TestAsError(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	got := httpapi.AsError(cause)
	if got.Code != httpapi.CodeInternal || !errors.Is(got, cause) || got.Message != "internal error" {
		t.Errorf("AsError(plain) = %#v, want internal wrapping the cause", got)
	}
	e := httpapi.Errorf(httpapi.CodeForbidden, "no %s", "access")
	if got := httpapi.AsError(fmt.Errorf("wrapped: %w", e)); got != e {
		t.Errorf("AsError(wrapped *Error) = %#v, want the same *Error", got)
	}
	if got, want := e.Error(), "forbidden: no access"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// A write that lost its idempotency key to an earlier request is answered by the idempotency middleware
// from the record, which drops the handler's 500: that 500 is not logged as an error; any other is.
func TestWriteErrorKeyRecordedIsNotLogged(t *testing.T) {
	t.Parallel()
	lost := httpapi.Internal(fmt.Errorf("postgres: query: %w: %w", idempotency.ErrKeyRecorded, errors.New("duplicate key value")))
	res, logs := writeError(t, "/horses", "req-1", lost)
	if res.status != http.StatusInternalServerError || logs != "" {
		t.Errorf("key recorded: status %d, logs %q; want 500 and no log", res.status, logs)
	}
	res, logs = writeError(t, "/horses", "req-2", httpapi.Internal(errors.New("duplicate key value")))
	if res.status != http.StatusInternalServerError || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("other 500: status %d, logs %q; want 500 logged at ERROR", res.status, logs)
	}
}

// appended is a JSONAppender writing {"v":<its text>}, or failing when fail is set.
type appended struct {
	text string
	fail bool
}

func (a appended) AppendJSON(b []byte) ([]byte, error) {
	if a.fail {
		return append(b, `{"v":`...), errors.New("appended: cannot encode")
	}
	b = append(b, `{"v":"`...)
	b = append(b, a.text...)
	return append(b, `"}`...), nil
}

// WriteJSON builds an appender's body in a pooled buffer: every response keeps exactly its own body, while
// later ones reuse the buffer, small and large; an appender's failure is a 500 with nothing of the body.
func TestWriteJSONAppenderBodiesStayTheirOwn(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/horses", nil)
	type written struct {
		w    *httptest.ResponseRecorder
		want string
	}
	var all []written
	for i := range 200 {
		text := strings.Repeat(strconv.Itoa(i%10), 1+i*i*3) // up to ~120 KB, over the pooled limit
		w := httptest.NewRecorder()
		httpapi.WriteJSON(w, r, http.StatusOK, appended{text: text})
		all = append(all, written{w, `{"v":"` + text + "\"}\n"})
		if i%7 == 0 {
			httpapi.WriteJSON(httptest.NewRecorder(), r, http.StatusOK, appended{fail: true})
		}
	}
	for i, x := range all {
		if got := x.w.Body.String(); got != x.want {
			t.Fatalf("response %d: body of %d bytes is not its own (want %d bytes)", i, len(got), len(x.want))
		}
		if got, want := x.w.Header().Get("Content-Length"), strconv.Itoa(len(x.want)); got != want {
			t.Errorf("response %d: Content-Length %s, want %s", i, got, want)
		}
	}
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, r, http.StatusOK, appended{fail: true})
	if res := readProblem(t, w); res.status != http.StatusInternalServerError || strings.Contains(res.body, `{"v":`) {
		t.Errorf("failing appender: status %d body %s, want a 500 problem without the partial body", res.status, res.body)
	}
}
