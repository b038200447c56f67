package middleware

import "net/http"

// Route names the matched route (e.g. "GET /horses/{id}") for the access log and audit events.
func Route(pattern string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if st := stateFrom(r.Context()); st != nil {
				st.route = pattern
			}
			next.ServeHTTP(w, r)
		})
	}
}
