package logging

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/rocker-app/corral/shared/jsonx"
)

// JSONAppender is a value that encodes itself as compact JSON. The handler of New appends it to the line
// as is; slog's JSON handler (and any other) calls MarshalJSON, which must return the same bytes, and
// compacts them: for the access line's ~600-byte metric header that compaction was a quarter of the whole
// middleware chain's CPU (BenchmarkChain).
type JSONAppender interface {
	json.Marshaler
	AppendJSON(b []byte) []byte
}

// handler writes what slog.JSONHandler writes, byte for byte, for the records and attributes functions
// log on every request: top-level attributes of kinds string, integers, float, bool, duration, time,
// error and JSONAppender. Anything else (groups, LogValuers, other values, floats JSON cannot hold,
// times outside years 0-9999) goes to a slog.JSONHandler over the same writer, as does every handler
// derived with WithGroup. Each line is one Write, under one lock shared with that JSONHandler.
type handler struct {
	out   *lockedWriter
	level slog.Leveler
	pre   []byte       // the WithAttrs attributes, encoded, each with its leading comma
	inner slog.Handler // slog.JSONHandler with the same attributes: the fallback
	plain bool         // false once WithGroup was called: inner handles everything
}

// lockedWriter makes each Write a whole line that no other line interleaves with.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newHandler(w io.Writer, level slog.Leveler) *handler {
	out := &lockedWriter{w: w}
	return &handler{out: out, level: level, inner: slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}), plain: true}
}

// Enabled implements slog.Handler.
func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	if !c.plain {
		return &c
	}
	pre := append([]byte(nil), h.pre...)
	for _, a := range attrs {
		var ok bool
		if pre, ok = appendAttr(pre, a); !ok {
			c.plain = false // the fallback has them all
			return &c
		}
	}
	c.pre = pre
	return &c
}

// WithGroup implements slog.Handler.
func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner, c.plain = h.inner.WithGroup(name), false
	return &c
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle implements slog.Handler.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.plain {
		return h.inner.Handle(ctx, r)
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			bufPool.Put(bp)
		}
	}()
	b := append((*bp)[:0], '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return h.inner.Handle(ctx, r)
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = jsonx.AppendStringNoHTML(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = jsonx.AppendStringNoHTML(b, r.Message)
	b = append(b, h.pre...)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	if !ok {
		return h.inner.Handle(ctx, r)
	}
	b = append(b, '}', '\n')
	*bp = b
	_, err := h.out.Write(b)
	return err
}

// appendAttr appends `,"key":value` as slog.JSONHandler writes it, or reports false for an attribute it
// leaves to slog.JSONHandler.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" {
		return b, false // empty attributes are dropped, empty-keyed groups inlined: slog's rules
	}
	b = append(b, ',')
	b = jsonx.AppendStringNoHTML(b, a.Key)
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		b = jsonx.AppendStringNoHTML(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return b, false
		}
		b = appendFloat(b, f)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		t := v.Time()
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case slog.KindAny:
		switch x := v.Any().(type) {
		case JSONAppender:
			b = x.AppendJSON(b)
		case json.Marshaler:
			return b, false
		case error:
			b = jsonx.AppendStringNoHTML(b, x.Error())
		default:
			return b, false
		}
	default: // groups, LogValuers
		return b, false
	}
	return b, true
}

// appendFloat appends f as encoding/json writes a float64 (which slog.JSONHandler calls for floats):
// shortest representation, exponent form outside [1e-6, 1e21), a two-digit negative exponent without
// its leading zero. f is finite.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
