package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/logging"
)

// ProblemTypeBase prefixes every problem "type"; the code completes it.
const ProblemTypeBase = "https://corral.rocker.app/problems/"

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []FieldProblem `json:"errors,omitempty"`
}

// WriteError answers with err as problem+json. Internal causes are logged with the request's logger and
// never sent; the client gets the request id to quote.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	status := Status(e.Code)
	// A write that lost its idempotency key to an earlier request is answered from that request's record
	// by the idempotency middleware, which drops this answer: no error to log.
	if status >= 500 && !errors.Is(e.Err, idempotency.ErrKeyRecorded) {
		logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("code", string(e.Code)), slog.Any("error", err))
	}
	p := Problem{
		Type:      ProblemTypeBase + string(e.Code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Instance:  r.URL.Path,
		RequestID: RequestID(r.Context()),
		Errors:    e.Fields,
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + 999_999_999) / 1_000_000_000)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeBody(w, status, "application/problem+json", p)
}

// WriteJSON encodes v into a buffer first (EncodeJSON), so an encoding failure can still become a 500,
// then writes it.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if a, ok := v.(JSONAppender); ok {
		// The body is built in a pooled buffer: a Write must not retain what it is given (io.Writer), so the
		// buffer is free again once written. A page of 20 horses (~8 KB) otherwise grew a fresh buffer from
		// 512 bytes, allocating about three times its size on every request.
		bp := bodyBuffers.Get().(*[]byte)
		b, err := a.AppendJSON((*bp)[:0])
		if err == nil {
			b = append(b, '\n')
			writeJSONBody(w, status, b)
		}
		if cap(b) <= maxPooledBody {
			*bp = b[:0]
			bodyBuffers.Put(bp)
		}
		if err != nil {
			WriteError(w, r, Internal(err))
		}
		return
	}
	b, err := EncodeJSON(v)
	if err != nil {
		WriteError(w, r, Internal(err))
		return
	}
	writeJSONBody(w, status, b)
}

// bodyBuffers holds WriteJSON's body buffers; one that grew over maxPooledBody is left to the collector.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBody = 64 << 10

func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	vals := make([]string, 2) // one allocation for both header values
	vals[0], vals[1] = "application/json", strconv.Itoa(len(b))
	h := w.Header()
	h["Content-Type"], h["Content-Length"] = vals[0:1:1], vals[1:2:2]
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// JSONAppender is a value that writes its own JSON: AppendJSON appends exactly what encoding/json's
// Encoder (HTML escaping on, as EncodeJSON uses it) writes for the value, without the newline, or fails
// where encoding/json would (package jsonx has the pieces). EncodeJSON and WriteJSON use it instead of
// encoding/json's reflection: for the hot responses (a horse: two time.Time fields, each a MarshalJSON
// call whose output encoding/json then parses again) that is most of the encoding's cost. Its tests must
// hold the two outputs equal.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// EncodeJSON returns the body WriteJSON writes for v: encoding/json's Encoder output, with <, >, & and
// U+2028/2029 escaped and a newline at the end (a JSONAppender appends the same bytes itself). A store
// that records a response before the handler writes it encodes the body with this, so the record and the
// answer are the same bytes.
func EncodeJSON(v any) ([]byte, error) {
	if a, ok := v.(JSONAppender); ok {
		b, err := a.AppendJSON(make([]byte, 0, 512))
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil { // a Problem always marshals; keep a last resort anyway
		b = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Internal Server Error","status":500}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	vals := make([]string, 3) // one allocation for the three header values
	vals[0], vals[1], vals[2] = contentType, strconv.Itoa(len(b)), "no-store"
	h := w.Header()
	h["Content-Type"], h["Content-Length"], h["Cache-Control"] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
