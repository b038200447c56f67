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
	emfSuffix := `,"CloudWatchMetrics":[{"Namespace":` + strconv.Quote(namespace) +
		`,"Dimensions":[["function"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"},` +
		`{"Name":"Status4xx","Unit":"Count"},{"Name":"Status5xx","Unit":"Count"},{"Name":"RateLimited","Unit":"Count"},{"Name":"RateLimitFallback","Unit":"Count"},` +
		`{"Name":"IdempotentReplays","Unit":"Count"}]}]}`
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			cold := !served.Swap(true)
			st := stateFrom(r.Context())
			var rw *recorder
			if st != nil {
				st.log.SetBase(base)
				st.log.Add(slog.String("request_id", st.requestID))
				st.rec = recorder{ResponseWriter: w}
				rw = &st.rec
				next.ServeHTTP(rw, r)
			} else { // outside RequestID: a logger and a recorder of its own
				rw = &recorder{ResponseWriter: w}
				next.ServeHTTP(rw, r.WithContext(logging.WithLogger(r.Context(), base)))
			}

			if rw.status == 0 {
				rw.status = http.StatusOK
			}
			latency := time.Since(start)
			var emf *emfRecord
			if st != nil {
				emf = &st.emf
			} else {
				emf = new(emfRecord)
			}
			emf.ms, emf.rest = start.UnixMilli(), emfSuffix
			reqID := ""
			limited, degraded, replayed := false, false, false
			if st != nil {
				reqID = st.requestID
				limited, degraded, replayed = st.rateLimited, st.limitDegraded, st.replayed
			}
			attrs := [20]slog.Attr{
				slog.Any("_aws", emf),
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
				slog.Int("RateLimited", b2i(limited)),
				slog.Int("RateLimitFallback", b2i(degraded)),
				slog.Int("IdempotentReplays", b2i(replayed)),
			}
			n := 14
			if st != nil {
				if st.route != "" {
					attrs[n] = slog.String("route", st.route)
					n++
				}
				if st.authenticated {
					attrs[n], attrs[n+1] = slog.String("tenant", st.principal.TenantID), slog.String("user", st.principal.UserID)
					n += 2
				}
			}
			level := slog.LevelInfo
			if rw.status >= 500 {
				level = slog.LevelError
			}
			// Straight to the handler: Logger.LogAttrs would also record the caller's program counter
			// (runtime.Callers), for a source location this line never prints.
			if h := base.Handler(); h.Enabled(r.Context(), level) {
				line := slog.NewRecord(time.Now(), level, "request", 0)
				line.AddAttrs(attrs[:n]...)
				_ = h.Handle(r.Context(), line)
			}
		})
	}
}

// emfRecord is the "_aws" member of an access line: the timestamp, then the rest of the member, already
// encoded. It is a logging.JSONAppender, which the functions' handler (logging.New) appends as is; it
// lives in the request's state, so building it allocates nothing.
type emfRecord struct {
	ms   int64  // Timestamp, Unix milliseconds
	rest string // the encoded members after Timestamp, and the closing brace
}

// AppendJSON appends the encoded member to b.
func (e *emfRecord) AppendJSON(b []byte) []byte {
	b = append(b, `{"Timestamp":`...)
	b = strconv.AppendInt(b, e.ms, 10)
	return append(b, e.rest...)
}

var _ logging.JSONAppender = (*emfRecord)(nil)

// MarshalJSON returns the encoded member, for handlers other than logging.New's.
func (e *emfRecord) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

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
