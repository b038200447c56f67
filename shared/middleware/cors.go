package middleware

import (
	"net/http"
	"slices"
)

// CORS answers browser preflights and adds CORS headers for the allowed origins ("*" allows any origin,
// without credentials). With no origins configured it does nothing, which is right behind an API Gateway
// that handles CORS itself.
func CORS(allowedOrigins []string) Middleware {
	any := slices.Contains(allowedOrigins, "*")
	const (
		methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
		headers = "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, X-Request-Id"
		expose  = "RateLimit, RateLimit-Policy, Retry-After, Idempotent-Replayed, X-Request-Id, Location"
	)
	return func(next http.Handler) http.Handler {
		if len(allowedOrigins) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			allowed := origin != "" && (any || slices.Contains(allowedOrigins, origin))
			h := w.Header()
			h.Add("Vary", "Origin")
			if allowed {
				if any {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
				}
				h.Set("Access-Control-Expose-Headers", expose)
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if allowed {
					h.Set("Access-Control-Allow-Methods", methods)
					h.Set("Access-Control-Allow-Headers", headers)
					h.Set("Access-Control-Max-Age", "600")
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
