package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// Recover turns a panic in a handler into a 500 problem+json answer and logs the panic with its stack.
// http.ErrAbortHandler is re-raised, as net/http expects.
func Recover() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
				httpapi.WriteError(w, r, httpapi.Internal(fmt.Errorf("panic: %v", v)))
			}()
			next.ServeHTTP(w, r)
		})
	}
}
