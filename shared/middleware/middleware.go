// Package middleware holds the chain every HTTP function runs: request id, structured access log with
// embedded metrics, panic recovery, CORS, body limit, authentication, rate limiting and idempotency.
// A Middleware wraps an http.Handler; Chain(m1, m2)(h) == m1(m2(h)), so a chain reads left to right in the
// order a request passes through it.
package middleware

import (
	"context"
	"net"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/logging"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain composes middleware so that the first one given is the outermost.
func Chain(ms ...Middleware) Middleware {
	return func(h http.Handler) http.Handler {
		for i := len(ms) - 1; i >= 0; i-- {
			h = ms[i](h)
		}
		return h
	}
}

// state is what inner middleware learn about a request and the access log reports after it: one
// allocation per request, placed in the context by RequestID, that also holds the request's lazily built
// logger and the access log's response recorder.
type state struct {
	requestID     string
	principal     auth.Principal
	authenticated bool
	route         string
	rateLimited   bool
	limitDegraded bool // decided by the in-process fallback because Redis was unreachable
	replayed      bool

	log logging.Scope // the request's logger (logging.FromContext), built only if something logs
	rec recorder      // AccessLog's view of the response
	emf emfRecord     // AccessLog's embedded-metric header
}

type stateKey struct{}

func stateFrom(ctx context.Context) *state {
	if s, ok := ctx.Value(stateKey{}).(*state); ok {
		return s
	}
	return nil
}

// ClientIP returns the caller's address as API Gateway saw it (requestContext.http.sourceIp), else the
// connection's remote address. Client-supplied headers such as X-Forwarded-For are never trusted.
func ClientIP(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.HTTP.SourceIP != "" {
		return gw.HTTP.SourceIP
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func contextWithState(ctx context.Context, s *state) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}
