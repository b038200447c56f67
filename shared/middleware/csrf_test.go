package middleware_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/csrf"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
)

func newCSRFTokens(tb testing.TB, seed byte) *csrf.Tokens {
	tb.Helper()
	tk, err := csrf.New(bytes.Repeat([]byte{seed}, csrf.MinSecretLen))
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	tk := newCSRFTokens(t, 1)
	token, other := tk.Issue(), tk.Issue()
	forged := newCSRFTokens(t, 2).Issue()
	const app = "https://app.corral.test"

	type request struct {
		method        string
		refresh       bool   // carries the refresh cookie
		cookie        string // the CSRF cookie's value, "" for none
		header        string // the X-CSRF-Token header, "" for none
		origin        string // "-" for none
		referer       string
		authorization string
	}
	// good is a cookie-authenticated POST that passes; each case changes one thing.
	good := request{method: http.MethodPost, refresh: true, cookie: token, header: token, origin: app}
	with := func(change func(*request)) request {
		r := good
		change(&r)
		return r
	}
	tests := []struct {
		name    string
		req     request
		allowed []string // AllowedOrigins; nil means {app}
		refused string   // the audited reason, "" when the request passes
	}{
		{"token and origin", good, nil, ""},
		{"no token", with(func(r *request) { r.header = "" }), nil, "token"},
		{"no token and no CSRF cookie", with(func(r *request) { r.header, r.cookie = "", "" }), nil, "token"},
		{"header without the CSRF cookie", with(func(r *request) { r.cookie = "" }), nil, "token"},
		{"header and cookie differ", with(func(r *request) { r.header = other }), nil, "token"},
		{"header and cookie agree on a forged token", with(func(r *request) { r.header, r.cookie = forged, forged }), nil, "token"},
		{"header and cookie agree on garbage", with(func(r *request) { r.header, r.cookie = "x", "x" }), nil, "token"},
		{"wrong origin", with(func(r *request) { r.origin = "https://evil.test" }), nil, "origin"},
		{"sibling subdomain", with(func(r *request) { r.origin = "https://evil.corral.test" }), nil, "origin"},
		{"http instead of https", with(func(r *request) { r.origin = "http://app.corral.test" }), nil, "origin"},
		{"other port", with(func(r *request) { r.origin = "https://app.corral.test:8443" }), nil, "origin"},
		{"origin null", with(func(r *request) { r.origin = "null" }), nil, "origin"},
		{"null origin does not fall back to the referer", with(func(r *request) { r.origin, r.referer = "null", app+"/x" }), nil, "origin"},
		{"no origin, no referer", with(func(r *request) { r.origin = "-" }), nil, "origin"},
		{"no origin, allowed referer", with(func(r *request) { r.origin, r.referer = "-", app+"/horses?page=2" }), nil, ""},
		{"no origin, other referer", with(func(r *request) { r.origin, r.referer = "-", "https://evil.test/app.corral.test" }), nil, "origin"},
		{"default port and case", with(func(r *request) { r.origin = "HTTPS://App.Corral.TEST:443" }), nil, ""},
		{"allowed entry with a default port and a slash", good, []string{"https://app.corral.test:443/"}, ""},
		{"wildcard allows nothing", good, []string{"*"}, "origin"},
		{"no allowed origins", good, []string{}, "origin"},
		{"local dev origin", with(func(r *request) { r.origin = "http://localhost:5173" }), []string{"http://localhost:5173"}, ""},
		{"PUT without token", with(func(r *request) { r.method, r.header = http.MethodPut, "" }), nil, "token"},
		{"PATCH without token", with(func(r *request) { r.method, r.header = http.MethodPatch, "" }), nil, "token"},
		{"DELETE without token", with(func(r *request) { r.method, r.header = http.MethodDelete, "" }), nil, "token"},
		{"GET without token or origin", request{method: http.MethodGet, refresh: true, origin: "https://evil.test"}, nil, ""},
		{"HEAD without token", request{method: http.MethodHead, refresh: true, origin: "-"}, nil, ""},
		{"OPTIONS without token", request{method: http.MethodOptions, refresh: true, origin: "https://evil.test"}, nil, ""},
		{"bearer POST without cookies", request{method: http.MethodPost, origin: "https://evil.test", authorization: "Bearer abc"}, nil, ""},
		{"POST without any credentials", request{method: http.MethodPost, origin: "-"}, nil, ""},
		{"POST with only the CSRF cookie", request{method: http.MethodPost, cookie: token, origin: "-"}, nil, ""},
		{"bearer POST that also carries the refresh cookie", request{method: http.MethodPost, refresh: true, origin: app, authorization: "Bearer abc"}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			allowed := tc.allowed
			if allowed == nil {
				allowed = []string{app}
			}
			log := &auditLog{}
			reached := false
			h := middleware.CSRF(middleware.CSRFOptions{AllowedOrigins: allowed, Tokens: tk, Audit: log})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached = true
					w.WriteHeader(http.StatusNoContent)
				}))
			q := tc.req
			r := httptest.NewRequest(q.method, "/auth/token", nil)
			if q.refresh {
				r.AddCookie(&http.Cookie{Name: csrf.DefaultRefreshCookie, Value: "opaque-refresh-token"})
			}
			if q.cookie != "" {
				r.AddCookie(&http.Cookie{Name: csrf.DefaultCookie, Value: q.cookie})
			}
			if q.header != "" {
				r.Header.Set(csrf.DefaultHeader, q.header)
			}
			if q.origin != "-" && q.origin != "" {
				r.Header.Set("Origin", q.origin)
			}
			if q.referer != "" {
				r.Header.Set("Referer", q.referer)
			}
			if q.authorization != "" {
				r.Header.Set("Authorization", q.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if tc.refused == "" {
				if rec.Code != http.StatusNoContent || !reached {
					t.Fatalf("status = %d (handler reached %v), want 204 from the handler; body %s", rec.Code, reached, rec.Body)
				}
				if n := len(log.recorded()); n != 0 {
					t.Errorf("audit events = %d, want none", n)
				}
				return
			}
			if reached {
				t.Error("the handler ran for a refused request")
			}
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status = %d, want 403; body %s", rec.Code, rec.Body)
			}
			if p := readProblem(t, rec); p.Type != httpapi.ProblemTypeBase+string(httpapi.CodeCSRFFailed) {
				t.Errorf("problem type = %q, want code %q", p.Type, httpapi.CodeCSRFFailed)
			}
			var got []string
			for _, e := range log.recorded() {
				got = append(got, e.Kind+":"+e.Detail["reason"].(string))
			}
			if diff := cmp.Diff([]string{middleware.KindCSRFRefused + ":" + tc.refused}, got); diff != "" {
				t.Errorf("audit events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSRFCustomNames(t *testing.T) {
	t.Parallel()
	tk := newCSRFTokens(t, 1)
	token := tk.Issue()
	h := middleware.CSRF(middleware.CSRFOptions{CookieName: "sid", CSRFCookie: "xsrf", Header: "X-XSRF", AllowedOrigins: []string{"https://a.test"}, Tokens: tk})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	send := func(header string) int {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.AddCookie(&http.Cookie{Name: "sid", Value: "s"})
		r.AddCookie(&http.Cookie{Name: "xsrf", Value: token})
		r.Header.Set("Origin", "https://a.test")
		r.Header.Set(header, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := send("X-XSRF"); got != http.StatusNoContent {
		t.Errorf("token in the configured header: %d, want 204", got)
	}
	if got := send(csrf.DefaultHeader); got != http.StatusForbidden {
		t.Errorf("token in the default header only: %d, want 403", got)
	}
}

func TestCSRFWithoutTokensPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("CSRF without Tokens did not panic")
		}
	}()
	middleware.CSRF(middleware.CSRFOptions{AllowedOrigins: []string{"https://a.test"}})
}
