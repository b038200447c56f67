package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

func TestHandlerFuncWritesReturnedErrors(t *testing.T) {
	t.Parallel()
	h := httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Get("fail") != "" {
			return httpapi.Errorf(httpapi.CodeConflict, "taken")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?fail=1", nil))
	if rec.Code != http.StatusConflict || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("error: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("success: %d", rec.Code)
	}
}

func TestCaller(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	if _, err := httpapi.Caller(r); httpapi.AsError(err).Code != httpapi.CodeUnauthorized {
		t.Fatalf("anonymous: %v", err)
	}
	want := auth.Principal{TenantID: "t", UserID: "u"}
	got, err := httpapi.Caller(r.WithContext(auth.WithPrincipal(r.Context(), want)))
	if err != nil || got.UserID != "u" || got.TenantID != "t" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestPathID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"a1000000-0000-4000-8000-000000000001", "a1000000-0000-4000-8000-000000000001", true},
		{"A1000000-0000-4000-8000-00000000000F", "a1000000-0000-4000-8000-00000000000f", true},
		{"a1000000000040008000000000000001", "", false}, // no hyphens: not the canonical form
		{"{a1000000-0000-4000-8000-000000000001}", "", false},
		{"not-a-uuid", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.SetPathValue("id", tc.in)
			got, err := httpapi.PathID(r, "id")
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("PathID(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && !errors.Is(err, httpapi.ErrNotFound) {
				t.Fatalf("error %v, want ErrNotFound", err)
			}
		})
	}
}
