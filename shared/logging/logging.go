// Package logging sets up the JSON slog logger every function uses and carries the request-scoped logger
// in the context, so that each line names the request id, tenant, user and function.
package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// New returns a JSON logger writing to w at the given level, with the function name on every line. Its
// lines are those of slog.JSONHandler, written faster for the common attribute kinds, and values that
// implement JSONAppender are written as they encode themselves.
func New(w io.Writer, level slog.Level, function string) *slog.Logger {
	return NewBase(w, level).With(slog.String("function", function))
}

// NewBase is New without the function attribute, for a process that serves several functions (the local
// runner) and adds each one's name with With.
func NewBase(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(newHandler(w, level))
}

type loggerKey struct{}

// WithLogger returns a context carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// WithScope returns a context whose logger is s's: FromContext builds it on first use.
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, loggerKey{}, s)
}

// FromContext returns the request's logger, or slog.Default() outside a request.
func FromContext(ctx context.Context) *slog.Logger {
	switch v := ctx.Value(loggerKey{}).(type) {
	case *slog.Logger:
		return v
	case *Scope:
		return v.Logger()
	}
	return slog.Default()
}

// scopeAttrs is how many attributes a Scope keeps without allocating: request id, tenant, user.
const scopeAttrs = 4

// Scope is a request-scoped logger that is only built when something logs: a base logger and the
// attributes every line of the request carries. Most requests log nothing but their access line, so this
// spares them the cost of slog.Logger.With (a handler clone and its pre-encoded attributes). Embed it in a
// per-request struct to spare the allocation too.
//
// Set the base and Add attributes before the request's handler runs; Logger may then be called from any
// goroutine.
type Scope struct {
	base  *slog.Logger
	attrs [scopeAttrs]slog.Attr
	extra []slog.Attr // attributes past the first scopeAttrs
	n     int

	mu sync.Mutex
	l  *slog.Logger
}

// SetBase sets the logger the scope adds its attributes to; slog.Default() when never set.
func (s *Scope) SetBase(base *slog.Logger) {
	s.mu.Lock()
	s.base, s.l = base, nil
	s.mu.Unlock()
}

// Add appends attributes to every later line of the scope's logger.
func (s *Scope) Add(attrs ...slog.Attr) {
	s.mu.Lock()
	for _, a := range attrs {
		if s.n < scopeAttrs {
			s.attrs[s.n] = a
			s.n++
		} else {
			s.extra = append(s.extra, a)
		}
	}
	s.l = nil
	s.mu.Unlock()
}

// Logger returns the base logger with the scope's attributes, building it on the first call.
func (s *Scope) Logger() *slog.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l != nil {
		return s.l
	}
	base := s.base
	if base == nil {
		base = slog.Default()
	}
	if s.n == 0 {
		s.l = base
		return s.l
	}
	args := make([]any, 0, s.n+len(s.extra))
	for _, a := range s.attrs[:s.n] {
		args = append(args, a)
	}
	for _, a := range s.extra {
		args = append(args, a)
	}
	s.l = base.With(args...)
	return s.l
}
