package httpapi

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
)

// HandlerFunc is a handler that reports failure by returning an error, which ServeHTTP answers with
// WriteError. A handler that returns nil has written its response.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// Caller returns the authenticated principal. On a route without authentication it is a
// CodeUnauthorized *Error.
func Caller(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return p, Errorf(CodeUnauthorized, "authentication required")
	}
	return p, nil
}

// PathID returns the path parameter name in canonical UUID form. Anything that is not a UUID names no
// resource: ErrNotFound, never a 400 or a database error.
func PathID(r *http.Request, name string) (string, error) {
	s := r.PathValue(name)
	if len(s) != 36 {
		return "", ErrNotFound
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", ErrNotFound
	}
	return id.String(), nil
}
