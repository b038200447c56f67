package middleware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/logging"
)

// Headers of the idempotency protocol.
const (
	IdempotencyKeyHeader = "Idempotency-Key"
	ReplayedHeader       = "Idempotent-Replayed"
)

// IdempotencyOptions configure one route's idempotency.
type IdempotencyOptions struct {
	Route    string        // the route pattern, part of the key's scope
	Required bool          // refuse a request without a key (400)
	TTL      time.Duration // how long a finished response is replayed
}

// defaultLease is the lease when the request has no deadline (outside Lambda).
const defaultLease = 30 * time.Second

// Idempotency makes POST, PUT, PATCH and DELETE requests that carry an Idempotency-Key safe to repeat,
// scoped by tenant, user and route (see package idempotency for the protocol). A finished duplicate replays
// the stored status, headers and body with Idempotent-Replayed: true; the same key with another payload is
// 422; a duplicate while the first is in flight is 409 with Retry-After; a store that cannot be reached is
// 503. The lease lasts as long as the request may run (the Lambda's remaining time).
func Idempotency(store idempotency.Store, o IdempotencyOptions) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				next.ServeHTTP(w, r)
				return
			}
			key := r.Header.Get(IdempotencyKeyHeader)
			if key == "" {
				if o.Required {
					httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeIdempotencyKeyNeeded, "this route requires an Idempotency-Key header"))
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			if !validKey(key) {
				httpapi.WriteError(w, r, httpapi.Invalid(httpapi.FieldProblem{Field: IdempotencyKeyHeader, Reason: "must be 1 to 255 printable ASCII characters"}))
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeTooLarge, "the body is larger than %d bytes", tooLarge.Limit))
					return
				}
				httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeInvalid, "the body could not be read"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))

			p, _ := auth.FromContext(r.Context())
			k := idempotency.Key{TenantID: p.TenantID, UserID: p.UserID, Route: o.Route, Key: key}
			out, err := store.Begin(r.Context(), k, requestHash(r, o.Route, body), leaseFor(r.Context()), o.TTL)
			if err != nil {
				httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "idempotency store unavailable; retry later", RetryAfter: time.Second, Err: err})
				return
			}
			switch {
			case out.Mismatch:
				httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeUnprocessable, "this Idempotency-Key was used with a different request"))
				return
			case out.Completed != nil:
				if st := stateFrom(r.Context()); st != nil {
					st.replayed = true
				}
				replay(w, out.Completed)
				return
			case out.InFlight || out.Lease == "":
				httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeConflict, Message: "a request with this Idempotency-Key is still in progress", RetryAfter: time.Second})
				return
			}

			cw := &capture{ResponseWriter: w}
			completed := false
			defer func() {
				if !completed { // the handler panicked: free the key for a retry, then let Recover answer
					releaseLease(r, store, k, out.Lease)
				}
			}()
			next.ServeHTTP(cw, r)
			completed = true
			if cw.status == 0 {
				cw.status = http.StatusOK
			}
			if cw.status >= 500 {
				releaseLease(r, store, k, out.Lease)
				return
			}
			rec := idempotency.Record{Status: cw.status, Header: storedHeaders(w.Header()), Body: cw.buf.Bytes()}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			if err := store.Complete(ctx, k, out.Lease, rec); err != nil {
				level := slog.LevelError
				if errors.Is(err, idempotency.ErrLeaseLost) {
					level = slog.LevelWarn
				}
				logging.FromContext(r.Context()).LogAttrs(r.Context(), level, "idempotency: response not stored", slog.Any("error", err))
			}
		})
	}
}

func releaseLease(r *http.Request, store idempotency.Store, k idempotency.Key, lease string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := store.Release(ctx, k, lease); err != nil {
		logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "idempotency: lease not released", slog.Any("error", err))
	}
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestHash fingerprints what makes two requests "the same": method, route, path, query and body.
func requestHash(r *http.Request, route string, body []byte) []byte {
	h := sha256.New()
	for _, s := range []string{r.Method, route, r.URL.Path, r.URL.RawQuery} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)
}

func leaseFor(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 {
			return left + time.Second
		}
	}
	return defaultLease
}

// notStored are response headers that describe this delivery, not the result, and are not replayed.
var notStored = map[string]bool{
	"X-Request-Id": true, "Ratelimit": true, "Ratelimit-Policy": true, "Retry-After": true, "Date": true,
	"Content-Length": true, "Vary": true, "Set-Cookie": true,
}

func storedHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		if notStored[ck] || len(ck) > 12 && ck[:12] == "Access-Contr" {
			continue
		}
		out[ck] = append([]string(nil), v...)
	}
	return out
}

func replay(w http.ResponseWriter, rec *idempotency.Record) {
	h := w.Header()
	for k, v := range rec.Header {
		h[k] = append([]string(nil), v...)
	}
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(rec.Status)
	_, _ = w.Write(rec.Body)
}

// capture passes a response through while keeping a copy of its status and body.
type capture struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }
