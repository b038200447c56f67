package httpapi_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// BenchmarkCursor measures one Encode and one Decode of a typical listing position.
func BenchmarkCursor(b *testing.B) {
	c := httpapi.NewCursors(cursorKey)
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.Encode(samplePosition)
		if err != nil {
			b.Fatal(err)
		}
		var p position
		if err := c.Decode(s, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures WriteError alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkWriteError measures answering with a problem: a 400 with field problems, and a 500 whose cause
// is logged (to a discarding JSON logger).
func BenchmarkWriteError(b *testing.B) {
	cases := []struct {
		name string
		err  error
	}{
		{"invalid", httpapi.Invalid(httpapi.FieldProblem{Field: "name", Reason: "is required"})},
		{"internal", httpapi.Internal(errors.New("connection refused"))},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/horses/7", nil)
			ctx := httpapi.WithRequestID(r.Context(), "0123456789abcdef0123456789abcdef")
			r = r.WithContext(logging.WithLogger(ctx, logging.New(io.Discard, slog.LevelInfo, "bench")))
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				httpapi.WriteError(w, r, bc.err)
			}
		})
	}
}
