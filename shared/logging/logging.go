// Package logging sets up the JSON slog logger every function uses and carries the request-scoped logger
// in the context, so that each line names the request id, tenant, user and function.
package logging

import (
	"context"
	"io"
	"log/slog"
)

// New returns a JSON logger writing to w at the given level, with the function name on every line.
func New(w io.Writer, level slog.Level, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With(slog.String("function", function))
}

type loggerKey struct{}

// WithLogger returns a context carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the request's logger, or slog.Default() outside a request.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
