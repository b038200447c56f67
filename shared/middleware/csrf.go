package middleware

import (
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/csrf"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// KindCSRFRefused is the audit event of a request CSRF refused; its Detail "reason" is "origin" or "token".
const KindCSRFRefused = "csrf.refused"

// CSRFOptions configure CSRF. Zero names take the csrf package's defaults.
type CSRFOptions struct {
	// CookieName is the refresh-token cookie (csrf.DefaultRefreshCookie): a request carrying it is
	// cookie-authenticated.
	CookieName string
	// CSRFCookie is the cookie csrf.Handler sets (csrf.DefaultCookie).
	CSRFCookie string
	// Header carries the token back (csrf.DefaultHeader, "X-CSRF-Token").
	Header string
	// AllowedOrigins are the browser origins ("https://app.example.com", scheme, host and port) whose pages
	// may write with the cookie. Entries are compared after lower-casing scheme and host and dropping a
	// default port; "*" and anything that is not an origin match nothing, and an empty list refuses every
	// cookie-authenticated write.
	AllowedOrigins []string
	// Tokens checks the signature of the token. Required.
	Tokens *csrf.Tokens
	// Audit, when set, receives a KindCSRFRefused event per refusal.
	Audit AuditRecorder
}

// CSRF refuses cross-site writes made with the browser's refresh cookie. A request with a state-changing
// method (anything but GET, HEAD and OPTIONS) that carries the refresh cookie, and no Authorization
// header, must come from an allowed origin (its Origin header or, when the browser sent none, its
// Referer's origin) and carry in the CSRF header the value of the CSRF cookie, a token Tokens signed;
// the two are compared in constant time. Otherwise the answer is 403 problem+json with code "csrf-failed"
// and the request goes no further.
//
// Everything else passes untouched: safe methods, requests without the refresh cookie, and requests with
// an Authorization header, which authenticate by bearer token: a page on another site cannot make a
// browser send a header of its choosing, with the cookie or without (that takes a CORS preflight only the
// allowed origins pass).
//
// It panics without o.Tokens (a wiring mistake that every test building the handler catches).
func CSRF(o CSRFOptions) Middleware {
	if o.Tokens == nil {
		panic("middleware: CSRF without csrf.Tokens")
	}
	if o.CookieName == "" {
		o.CookieName = csrf.DefaultRefreshCookie
	}
	if o.CSRFCookie == "" {
		o.CSRFCookie = csrf.DefaultCookie
	}
	if o.Header == "" {
		o.Header = csrf.DefaultHeader
	}
	allowed := make(map[string]bool, len(o.AllowedOrigins))
	for _, s := range o.AllowedOrigins {
		if origin, ok := normalizeOrigin(s); ok {
			allowed[origin] = true
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !needsCSRF(r, o.CookieName) {
				next.ServeHTTP(w, r)
				return
			}
			if origin, ok := requestOrigin(r); !ok || !allowed[origin] {
				refuseCSRF(w, r, o.Audit, "origin", "this origin may not write with the session cookie")
				return
			}
			token := r.Header.Get(o.Header)
			c, err := r.Cookie(o.CSRFCookie)
			if token == "" || err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(c.Value)) != 1 || !o.Tokens.Valid(token) {
				refuseCSRF(w, r, o.Audit, "token", "a CSRF token is required: send the value of GET /auth/csrf in the "+o.Header+" header")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// needsCSRF reports whether r is a state-changing request authenticated by the refresh cookie.
func needsCSRF(r *http.Request, refreshCookie string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if r.Header.Get("Authorization") != "" {
		return false
	}
	_, err := r.Cookie(refreshCookie)
	return err == nil
}

// requestOrigin returns the origin the browser reported: the Origin header, else the Referer's scheme,
// host and port. An Origin of "null" or one that does not parse is no origin (the Referer is not consulted
// then: the browser chose to hide the origin).
func requestOrigin(r *http.Request) (string, bool) {
	if o := r.Header.Get("Origin"); o != "" {
		return normalizeOrigin(o)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return normalizeOrigin(ref)
	}
	return "", false
}

// normalizeOrigin reduces a URL to its origin "scheme://host[:port]" with scheme and host lower-cased and
// the scheme's default port dropped. Only http and https URLs with a host have one.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", false
	}
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]"
	}
	return scheme + "://" + host, true
}

func refuseCSRF(w http.ResponseWriter, r *http.Request, rec AuditRecorder, reason, msg string) {
	logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "csrf refused",
		slog.String("reason", reason), slog.String("origin", r.Header.Get("Origin")))
	if rec != nil {
		route := r.Method + " " + r.URL.Path
		if st := stateFrom(r.Context()); st != nil && st.route != "" {
			route = st.route
		}
		rec.Record(audit.Event{Kind: KindCSRFRefused, IP: ClientIP(r), Route: route,
			RequestID: httpapi.RequestID(r.Context()), Detail: map[string]any{"reason": reason}})
	}
	httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeCSRFFailed, Message: msg})
}
