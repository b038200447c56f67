package middleware

import (
	"net/http"

	"github.com/rocker-app/corral/shared/httpapi"
)

// BodyLimit refuses a body declared larger than limit bytes with 413 problem+json, and caps the reader so
// an undeclared (chunked) body cannot exceed it either: reading past the limit fails, and httpapi.Decode
// turns that into 413.
func BodyLimit(limit int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeTooLarge, "the body is larger than %d bytes", limit))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}
