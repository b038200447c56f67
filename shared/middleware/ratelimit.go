package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// unavailableRetry is what a sensitive route tells clients when Redis is down.
const unavailableRetry = 5 * time.Second

// RateLimit applies policy to every request: keyed by tenant and user for authenticated callers, by API
// Gateway's source IP for ScopeIP policies and anonymous callers. Every answer carries the RateLimit-Policy
// and RateLimit headers; a refused request is 429 problem+json with Retry-After and becomes an audit event.
// When Redis is unreachable a sensitive policy answers 503 with Retry-After (ordinary ones fail open inside
// the limiter).
func RateLimit(l *ratelimit.Limiter, policy ratelimit.Policy, rec AuditRecorder) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, authed := auth.FromContext(r.Context())
			subject := p.UserID
			if policy.Scope == ratelimit.ScopeIP || !authed {
				subject = ClientIP(r)
			}
			d, err := l.Allow(r.Context(), policy, p.TenantID, subject)
			if err != nil && !errors.Is(err, ratelimit.ErrUnavailable) {
				httpapi.WriteError(w, r, httpapi.Internal(err)) // a route wired with an unusable policy
				return
			}
			if err != nil {
				logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "rate limiter unavailable, refusing sensitive route",
					slog.String("policy", policy.Name), slog.Any("error", err))
				record(rec, r, p, audit.KindRateLimitDown, policy.Name)
				httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "temporarily unavailable; retry later", RetryAfter: unavailableRetry, Err: err})
				return
			}
			if d.Source == ratelimit.SourceFallback {
				if st := stateFrom(r.Context()); st != nil {
					st.limitDegraded = true
				}
			}
			ratelimit.SetHeaders(w.Header(), d)
			if !d.Allowed {
				if st := stateFrom(r.Context()); st != nil {
					st.rateLimited = true
				}
				record(rec, r, p, audit.KindRateLimited, policy.Name)
				httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeRateLimited, Message: "too many requests; slow down", RetryAfter: d.RetryAfter})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func record(rec AuditRecorder, r *http.Request, p auth.Principal, kind, policy string) {
	if rec == nil {
		return
	}
	route := r.Method + " " + r.URL.Path
	if st := stateFrom(r.Context()); st != nil && st.route != "" {
		route = st.route
	}
	rec.Record(audit.Event{TenantID: p.TenantID, UserID: p.UserID, Kind: kind, IP: ClientIP(r), Route: route,
		RequestID: httpapi.RequestID(r.Context()), Detail: map[string]any{"policy": policy}})
}
