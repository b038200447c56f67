package csrf_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/csrf"
)

func newTokens(tb testing.TB, seed byte) *csrf.Tokens {
	tb.Helper()
	tk, err := csrf.New(bytes.Repeat([]byte{seed}, csrf.MinSecretLen))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return tk
}

func TestNewRefusesAShortSecret(t *testing.T) {
	t.Parallel()
	if _, err := csrf.New(make([]byte, csrf.MinSecretLen-1)); err == nil {
		t.Error("New accepted a secret shorter than MinSecretLen")
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, 1)
	other := newTokens(t, 2)
	good := tk.Issue()
	if good == tk.Issue() {
		t.Fatal("two issued tokens are equal")
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"issued", good, true},
		{"another issued", tk.Issue(), true},
		{"empty", "", false},
		{"garbage", "not-a-token", false},
		{"random part changed", flip(good, 3), false},
		{"tag changed", flip(good, len(good)-3), false},
		{"truncated", good[:len(good)-1], false},
		{"extended", good + "A", false},
		{"padded", good + "==", false},
		{"other secret", other.Issue(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tk.Valid(tc.token); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.token, got, tc.want)
			}
		})
	}
}

// get calls the handler with an optional CSRF cookie and returns the response.
func get(tb testing.TB, h http.Handler, method, cookie string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(method, "/auth/csrf", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: csrf.DefaultCookie, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestHandlerSetsTheCookieAndReturnsTheToken(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, 1)
	rec := get(t, csrf.Handler(tk, csrf.HandlerOptions{}), http.MethodGet, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body csrf.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if !tk.Valid(body.CSRFToken) {
		t.Errorf("body token %q is not valid", body.CSRFToken)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v, want one", cookies)
	}
	c := cookies[0]
	got := http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, MaxAge: c.MaxAge, Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite}
	want := http.Cookie{Name: csrf.DefaultCookie, Value: body.CSRFToken, Path: "/", Secure: true, HttpOnly: false, SameSite: http.SameSiteStrictMode}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cookie (-want +got):\n%s", diff)
	}
}

func TestHandlerKeepsAValidCookie(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, 1)
	h := csrf.Handler(tk, csrf.HandlerOptions{MaxAge: 12 * time.Hour})
	existing := tk.Issue()
	tests := []struct {
		name   string
		cookie string
		same   bool
	}{
		{"valid cookie kept", existing, true},
		{"forged cookie replaced", newTokens(t, 9).Issue(), false},
		{"garbage cookie replaced", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := get(t, h, http.MethodGet, tc.cookie)
			var body csrf.Response
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if got := body.CSRFToken == tc.cookie; got != tc.same {
				t.Errorf("token %q returned for cookie %q: same = %v, want %v", body.CSRFToken, tc.cookie, got, tc.same)
			}
			if !tk.Valid(body.CSRFToken) {
				t.Errorf("token %q is not valid", body.CSRFToken)
			}
			c := rec.Result().Cookies()
			if len(c) != 1 || c[0].Value != body.CSRFToken || c[0].MaxAge != 12*60*60 {
				t.Errorf("cookies = %v, want the body's token for 12h", c)
			}
		})
	}
}

func TestHandlerRefusesWrites(t *testing.T) {
	t.Parallel()
	rec := get(t, csrf.Handler(newTokens(t, 1), csrf.HandlerOptions{}), http.MethodPost, "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST: %d %s, want 405 problem+json", rec.Code, rec.Header().Get("Content-Type"))
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Error("POST set a cookie")
	}
}
