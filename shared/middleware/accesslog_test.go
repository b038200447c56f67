package middleware_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/middleware"
)

// A handler's own log lines carry the request id, tenant and user, although the request logger is only
// built when the handler logs; the access line carries them too, with the embedded metrics.
func TestRequestLoggerCarriesTheRequest(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	base := logging.New(&logs, slog.LevelInfo, "test")
	tenant, user := uuid.NewString(), uuid.NewString()
	h := middleware.Chain(
		middleware.RequestID(),
		middleware.AccessLog(base, "CorralTest"),
		middleware.Authenticate(newVerifier(t), middleware.AuthOptions{}),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logging.FromContext(r.Context()).InfoContext(r.Context(), "handler line")
		w.WriteHeader(http.StatusNoContent)
	}))

	r := httptest.NewRequest(http.MethodGet, "/horses", nil)
	r.Header.Set("Authorization", "Bearer "+signHS256(t, user, tenant, nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want the handler's and the access line:\n%s", len(lines), logs.String())
	}
	type line struct {
		Msg       string `json:"msg"`
		Function  string `json:"function"`
		RequestID string `json:"request_id"`
		Tenant    string `json:"tenant"`
		User      string `json:"user"`
		Status    int    `json:"status"`
		Requests  int    `json:"Requests"`
		AWS       struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace string `json:"Namespace"`
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
	}
	var got [2]line
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
	}
	id := w.Header().Get(middleware.RequestIDHeader)
	if len(id) != 32 {
		t.Errorf("request id %q, want 32 hex digits", id)
	}
	want := line{Msg: "handler line", Function: "test", RequestID: id, Tenant: tenant, User: user}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("handler line (-want +got):\n%s", diff)
	}
	access := got[1]
	if access.AWS.Timestamp == 0 || len(access.AWS.CloudWatchMetrics) != 1 || access.AWS.CloudWatchMetrics[0].Namespace != "CorralTest" {
		t.Errorf("access line _aws = %+v, want a timestamp and namespace CorralTest", access.AWS)
	}
	access.AWS = want.AWS
	want = line{Msg: "request", Function: "test", RequestID: id, Tenant: tenant, User: user, Status: http.StatusNoContent, Requests: 1}
	if diff := cmp.Diff(want, access); diff != "" {
		t.Errorf("access line (-want +got):\n%s", diff)
	}
}

// Two requests get two different ids.
func TestRequestIDsDiffer(t *testing.T) {
	t.Parallel()
	h := middleware.RequestID()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 100 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		id := w.Header().Get(middleware.RequestIDHeader)
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}
