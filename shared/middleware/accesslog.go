package middleware

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rocker-app/corral/shared/logging"
)

// AccessLog logs one JSON line per request through base: method, route, status, latency, request id,
// tenant, user, and whether this was the instance's first (cold-start) request. The same line is a
// CloudWatch Embedded Metric Format record in namespace, so CloudWatch turns it into the metrics
// Requests, Latency, Status4xx, Status5xx, RateLimited, RateLimitFallback (decided without Redis) and
// IdempotentReplays (dimension: function) with no agent and no extra API call. It also puts a
// request-scoped logger in the context for handlers (logging.FromContext). It must run inside RequestID.
func AccessLog(base *slog.Logger, namespace string) Middleware {
	var served atomic.Bool
	emfPrefix := `{"Timestamp":`
	emfSuffix := `,"CloudWatchMetrics":[{"Namespace":` + strconv.Quote(namespace) +
		`,"Dimensions":[["function"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"},` +
		`{"Name":"Status4xx","Unit":"Count"},{"Name":"Status5xx","Unit":"Count"},{"Name":"RateLimited","Unit":"Count"},{"Name":"RateLimitFallback","Unit":"Count"},` +
		`{"Name":"IdempotentReplays","Unit":"Count"}]}]}`
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			cold := !served.Swap(true)
			st := stateFrom(r.Context())
			reqID := ""
			if st != nil {
				reqID = st.requestID
			}
			l := base.With(slog.String("request_id", reqID))
			rw := &recorder{ResponseWriter: w}
			next.ServeHTTP(rw, r.WithContext(logging.WithLogger(r.Context(), l)))

			if rw.status == 0 {
				rw.status = http.StatusOK
			}
			latency := time.Since(start)
			attrs := make([]slog.Attr, 0, 20)
			emf := make([]byte, 0, len(emfPrefix)+len(emfSuffix)+16)
			emf = append(emf, emfPrefix...)
			emf = strconv.AppendInt(emf, start.UnixMilli(), 10)
			emf = append(emf, emfSuffix...)
			attrs = append(attrs,
				slog.Any("_aws", rawJSON(emf)),
				slog.String("request_id", reqID),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rw.status),
				slog.Int64("bytes", rw.bytes),
				slog.Float64("Latency", float64(latency.Microseconds())/1000),
				slog.Int("Requests", 1),
				slog.Int("Status4xx", b2i(rw.status >= 400 && rw.status < 500)),
				slog.Int("Status5xx", b2i(rw.status >= 500)),
				slog.Bool("cold_start", cold),
			)
			limited, degraded, replayed := false, false, false
			if st != nil {
				limited, degraded, replayed = st.rateLimited, st.limitDegraded, st.replayed
				if st.route != "" {
					attrs = append(attrs, slog.String("route", st.route))
				}
				if st.authenticated {
					attrs = append(attrs, slog.String("tenant", st.principal.TenantID), slog.String("user", st.principal.UserID))
				}
			}
			attrs = append(attrs, slog.Int("RateLimited", b2i(limited)), slog.Int("RateLimitFallback", b2i(degraded)),
				slog.Int("IdempotentReplays", b2i(replayed)))
			level := slog.LevelInfo
			if rw.status >= 500 {
				level = slog.LevelError
			}
			base.LogAttrs(r.Context(), level, "request", attrs...)
		})
	}
}

// rawJSON is already-encoded JSON that the slog JSON handler writes as is.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy fast paths available through the wrapper.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
