package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/rocker-app/corral/shared/httpapi"
)

// RequestIDHeader carries the request id back to the client.
const RequestIDHeader = "X-Request-Id"

// RequestID takes API Gateway's request id when the request came through it, else generates one, stores it
// in the context (httpapi.RequestID) and echoes it in the X-Request-Id response header. A client-supplied
// X-Request-Id is not trusted.
func RequestID() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := ""
			if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
				id = gw.RequestID
			}
			if id == "" {
				id = newID()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := httpapi.WithRequestID(r.Context(), id)
			ctx = contextWithState(ctx, &state{requestID: id})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
