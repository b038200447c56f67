package middleware

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// RequestIDHeader carries the request id back to the client.
const RequestIDHeader = "X-Request-Id"

// RequestID takes API Gateway's request id when the request came through it, else generates one, stores it
// in the context (httpapi.RequestID) and echoes it in the X-Request-Id response header. A client-supplied
// X-Request-Id is not trusted. It also gives the request its logger (logging.FromContext), which AccessLog
// and Authenticate enrich.
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
			w.Header()[RequestIDHeader] = []string{id}
			st := &state{requestID: id}
			ctx := httpapi.WithRequestID(r.Context(), id)
			ctx = contextWithState(ctx, st)
			ctx = logging.WithScope(ctx, &st.log)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// newID returns 128 random bits in hex. The id needs to be unique, not secret: math/rand/v2's
// per-thread ChaCha8 generator serves that without a system call.
func newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}
