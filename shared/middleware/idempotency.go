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
//
// When the store is an idempotency.TxStore and the handler is marked with EffectsInTx, the lease is not
// taken up front: it rides the handler's first write transaction (see runInTx), which saves a round trip
// and commits the lease exactly when the effect commits.
func Idempotency(store idempotency.Store, o IdempotencyOptions) Middleware {
	return func(next http.Handler) http.Handler {
		txStore, _ := store.(idempotency.TxStore)
		if _, ok := next.(effectsInTx); !ok {
			txStore = nil
		}
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
			p, _ := auth.FromContext(r.Context())
			c := idemCall{store: store, next: next, key: idempotency.Key{TenantID: p.TenantID, UserID: p.UserID, Route: o.Route, Key: key},
				hash: requestHash(r, o.Route, body), body: body, ttl: o.TTL}
			if txStore != nil {
				c.runInTx(w, r, txStore)
				return
			}
			c.run(w, r)
		})
	}
}

// EffectsInTx marks h as a handler whose every effect is a write to the idempotency store's Postgres
// database, in transactions that carry the request's context (postgres.DB.InTx, or a ReadWrite QueryRow
// or Query): no call to another service, queue or store before its first such write commits (after it,
// anything goes: the lease is then held). For such a handler Idempotency lets the lease ride that first
// write instead of taking it in a transaction of its own. Mark only the route's own handler: Idempotency
// must be the last middleware before it.
func EffectsInTx(h http.Handler) http.Handler { return effectsInTx{h} }

type effectsInTx struct{ http.Handler }

// idemCall is one request with an Idempotency-Key.
type idemCall struct {
	store idempotency.Store
	next  http.Handler
	key   idempotency.Key
	hash  []byte
	body  []byte
	ttl   time.Duration
}

// run is the protocol with a lease taken up front: Begin, then the handler (its response passed through
// as it is written), then Complete or, on a 5xx or a panic, Release.
func (c *idemCall) run(w http.ResponseWriter, r *http.Request) {
	out, err := c.store.Begin(r.Context(), c.key, c.hash, leaseFor(r.Context()), c.ttl)
	if !c.answered(w, r, out, err) {
		c.serveWithLease(w, r, out.Lease)
	}
}

// answered writes the answer to a Begin that did not grant the lease (an error, a mismatch, a replay, a
// duplicate in flight) and reports whether it did.
func (c *idemCall) answered(w http.ResponseWriter, r *http.Request, out idempotency.Outcome, err error) bool {
	switch {
	case err != nil:
		httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "idempotency store unavailable; retry later", RetryAfter: time.Second, Err: err})
	case out.Mismatch:
		httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeUnprocessable, "this Idempotency-Key was used with a different request"))
	case out.Completed != nil:
		if st := stateFrom(r.Context()); st != nil {
			st.replayed = true
		}
		replay(w, out.Completed)
	case out.InFlight || out.Lease == "":
		httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeConflict, Message: "a request with this Idempotency-Key is still in progress", RetryAfter: time.Second})
	default:
		return false
	}
	return true
}

func (c *idemCall) serveWithLease(w http.ResponseWriter, r *http.Request, lease string) {
	r.Body = io.NopCloser(bytes.NewReader(c.body))
	cw := &capture{ResponseWriter: w}
	completed := false
	defer func() {
		if !completed { // the handler panicked: free the key for a retry, then let Recover answer
			releaseLease(r, c.store, c.key, lease)
		}
	}()
	c.next.ServeHTTP(cw, r)
	completed = true
	if cw.status == 0 {
		cw.status = http.StatusOK
	}
	c.finish(r, w.Header(), cw.status, cw.buf.Bytes(), lease)
}

// finish stores a response the lease holder produced, or releases the lease after a 5xx.
func (c *idemCall) finish(r *http.Request, h http.Header, status int, body []byte, lease string) {
	if status >= 500 {
		releaseLease(r, c.store, c.key, lease)
		return
	}
	rec := idempotency.Record{Status: status, Header: storedHeaders(h), Body: body}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := c.store.Complete(ctx, c.key, lease, rec); err != nil {
		level := slog.LevelError
		if errors.Is(err, idempotency.ErrLeaseLost) {
			level = slog.LevelWarn
		}
		logging.FromContext(r.Context()).LogAttrs(r.Context(), level, "idempotency: response not stored", slog.Any("error", err))
	}
}

// runInTx is the protocol with the lease riding the handler's first write (idempotency.TxStore). The
// handler runs with the pending lease in its context and its response held back, then:
//
//   - the lease committed with a write: the response is sent and stored (Complete), or the lease released
//     after a 5xx, exactly as in run;
//   - the write stored the finished record itself (PendingRecorded: the handler declared its response with
//     idempotency.Expect and the store rendered the body in the same statement): the response is sent,
//     and there is nothing left to store;
//   - the key already had a record (PendingConflict): the write that tried to take the lease failed and
//     rolled back, so the handler had no effect; its response is dropped and the request starts over with
//     run, which replays, refuses (409, 422) or takes over the record and runs the handler again;
//   - no write committed the lease (the handler refused the request before writing, or its writes rolled
//     back): the handler had no effect, so the outcome is what run would have given with this response:
//     Begin, then the response is stored and sent if the lease was granted, or Begin's answer is sent.
//
// A panicking handler had either no effect (nothing committed: nothing to undo) or committed the lease
// with its effect, which is then released as in run, or committed the finished record with its effect,
// which stays: the effect happened, and a retry replays the declared response.
func (c *idemCall) runInTx(w http.ResponseWriter, r *http.Request, store idempotency.TxStore) {
	pending := store.Pending(c.key, c.hash, leaseFor(r.Context()), c.ttl)
	bw := &bufferedWriter{header: http.Header{}}
	r2 := r.WithContext(idempotency.WithPending(r.Context(), pending))
	r2.Body = io.NopCloser(bytes.NewReader(c.body))
	served := false
	defer func() {
		if !served && pending.State() == idempotency.PendingCommitted {
			releaseLease(r, c.store, c.key, pending.Token)
		}
	}()
	c.next.ServeHTTP(bw, r2)
	served = true
	if bw.status == 0 {
		bw.status = http.StatusOK
	}
	switch pending.State() {
	case idempotency.PendingCommitted:
		bw.send(w)
		c.finish(r, w.Header(), bw.status, bw.body.Bytes(), pending.Token)
	case idempotency.PendingRecorded:
		// The write stored the finished record itself, with the response the handler declared (Expect).
		bw.send(w)
		if exp := pending.Expected(); exp != nil && exp.Status != bw.status {
			logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "idempotency: the response sent is not the one recorded",
				slog.Int("sent", bw.status), slog.Int("recorded", exp.Status))
		}
	case idempotency.PendingConflict:
		c.run(w, r)
	default:
		if bw.status >= 500 { // nothing to store, and nothing happened that a retry could repeat
			bw.send(w)
			return
		}
		out, err := c.store.Begin(r.Context(), c.key, c.hash, leaseFor(r.Context()), c.ttl)
		if c.answered(w, r, out, err) {
			return
		}
		bw.send(w)
		c.finish(r, w.Header(), bw.status, bw.body.Bytes(), out.Lease)
	}
}

// bufferedWriter holds a response back until the middleware knows it may be sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// send writes the held response to w.
func (b *bufferedWriter) send(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
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
