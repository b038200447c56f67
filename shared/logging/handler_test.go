package logging

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// raw is a JSONAppender whose bytes are compact, as the interface requires.
type raw string

func (r raw) MarshalJSON() ([]byte, error) { return []byte(r), nil }
func (r raw) AppendJSON(b []byte) []byte   { return append(b, r...) }

// marshalErr is an error that is also a json.Marshaler: slog.JSONHandler marshals it.
type marshalErr struct{}

func (marshalErr) MarshalJSON() ([]byte, error) { return []byte(`{"marshalled":true}`), nil }
func (marshalErr) Error() string                { return "as text" }

type point struct{ X, Y int }

type valuer struct{}

func (valuer) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("a", 1), slog.String("b", "<x>"))
}

// The handler writes exactly what slog.JSONHandler writes, for every kind of attribute and record, the
// ones it writes itself and the ones it hands on alike.
func TestHandlerMatchesJSONHandler(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 16, 50, 1, 123456700, time.FixedZone("X", 3600))
	strs := []string{"", "plain", `quote " and \ back`, "ctl \n\r\t\x00\x01\x1f\x7f", "<html> & 'js'",
		"utf8 héllo ✓ 🐎", "bad \xff\xfe utf8", "sep \u2028 \u2029", strings.Repeat("long ", 300)}
	floats := []float64{0, 1, -1, 0.5, 1.25, 3.14159, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e20, 1e21, 1.5e300, -2.5e-8,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789.125, math.Inf(1), math.NaN()}
	var cases [][]slog.Attr
	for _, s := range strs {
		cases = append(cases, []slog.Attr{slog.String("s", s), slog.String(s, "as key")})
	}
	for _, f := range floats {
		cases = append(cases, []slog.Attr{slog.Float64("f", f)})
	}
	cases = append(cases,
		[]slog.Attr{slog.Int("i", -42), slog.Int64("big", math.MinInt64), slog.Uint64("u", math.MaxUint64)},
		[]slog.Attr{slog.Bool("t", true), slog.Bool("f", false), slog.Duration("d", 1500*time.Millisecond)},
		[]slog.Attr{slog.Time("at", at), slog.Time("utc", at.UTC()), slog.Time("zero", time.Time{})},
		[]slog.Attr{slog.Time("far", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))},
		[]slog.Attr{slog.Any("err", errors.New("boom \"x\"")), slog.Any("both", marshalErr{})},
		[]slog.Attr{slog.Any("raw", raw(`{"a":[1,2,{"b":"c"}],"d":null}`)), slog.String("after", "x")},
		[]slog.Attr{slog.Any("struct", point{1, 2}), slog.Any("nil", nil), slog.Any("map", map[string]int{"a": 1})},
		[]slog.Attr{slog.Group("g", slog.String("in", "x"), slog.Int("n", 1)), slog.String("out", "y")},
		[]slog.Attr{slog.Group("", slog.String("inlined", "x"))},
		[]slog.Attr{slog.Group("empty")},
		[]slog.Attr{{}, slog.String("after-empty", "x")},
		[]slog.Attr{slog.Any("valuer", valuer{})},
		nil,
	)
	derive := map[string]func(slog.Handler) slog.Handler{
		"bare":  func(h slog.Handler) slog.Handler { return h },
		"attrs": func(h slog.Handler) slog.Handler { return h.WithAttrs([]slog.Attr{slog.String("function", "fn\x01")}) },
		"attrs fallback": func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("function", "fn"), slog.Any("p", point{3, 4})})
		},
		"group": func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("function", "fn")}).WithGroup("req").WithAttrs([]slog.Attr{slog.Int("n", 2)})
		},
		"empty group": func(h slog.Handler) slog.Handler { return h.WithGroup("") },
	}
	levels := []slog.Level{slog.LevelInfo, slog.LevelError, slog.LevelWarn + 1}
	for name, d := range derive {
		for i, attrs := range cases {
			for _, level := range levels {
				for _, when := range []time.Time{at, {}, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
					var want, got bytes.Buffer
					r := slog.NewRecord(when, level, "msg \"q\" \n", 0)
					r.AddAttrs(attrs...)
					wantErr := d(slog.NewJSONHandler(&want, nil)).Handle(context.Background(), r.Clone())
					gotErr := d(newHandler(&got, slog.LevelInfo)).Handle(context.Background(), r.Clone())
					if diff := cmp.Diff(want.String(), got.String()); diff != "" || (wantErr == nil) != (gotErr == nil) {
						t.Fatalf("%s, case %d, %v, time %v: line differs from slog.JSONHandler's (-want +got):\n%s\nerrors %v, %v",
							name, i, level, when, diff, wantErr, gotErr)
					}
				}
			}
		}
	}
}

func TestHandlerLevelAndConcurrentLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(newHandler(&buf, slog.LevelWarn)).With("function", "fn")
	l.Info("dropped")
	if buf.Len() != 0 {
		t.Fatalf("an Info line at level Warn was written: %s", buf.String())
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					l.Warn("fast", "i", i)
				} else { // the fallback handler shares the lock
					l.Warn("slow", "p", point{i, i})
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"time":`) || !strings.HasSuffix(line, "}") || !strings.Contains(line, `"function":"fn"`) {
			t.Fatalf("torn or malformed line: %q", line)
		}
	}
}

// The access line's attributes, as middleware.AccessLog writes them.
func accessAttrs() []slog.Attr {
	return []slog.Attr{
		slog.Any("_aws", raw(`{"Timestamp":1764175801123,"CloudWatchMetrics":[{"Namespace":"Corral","Dimensions":[["function"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"},{"Name":"Status4xx","Unit":"Count"},{"Name":"Status5xx","Unit":"Count"},{"Name":"RateLimited","Unit":"Count"},{"Name":"RateLimitFallback","Unit":"Count"},{"Name":"IdempotentReplays","Unit":"Count"}]}]}`)),
		slog.String("request_id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), slog.String("method", "GET"),
		slog.String("path", "/horses/41b9e73e-2e2e-4767-9bbe-9b584d45d1ad"), slog.Int("status", 200), slog.Int64("bytes", 412),
		slog.Float64("Latency", 1.234), slog.Int("Requests", 1), slog.Int("Status4xx", 0), slog.Int("Status5xx", 0),
		slog.Bool("cold_start", false), slog.Int("RateLimited", 0), slog.Int("RateLimitFallback", 0),
		slog.Int("IdempotentReplays", 0), slog.String("route", "GET /horses/{id}"),
		slog.String("tenant", "10ad0000-0000-4000-8000-000000000001"), slog.String("user", "10ad0001-0000-4000-8000-000000000043"),
	}
}

// go test -run '^$' -bench AccessLine -benchmem ./shared/logging/
func BenchmarkAccessLine(b *testing.B) {
	attrs := accessAttrs()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog.JSONHandler", slog.NewJSONHandler(io.Discard, nil)},
		{"handler", newHandler(io.Discard, slog.LevelInfo)},
	} {
		h := bc.h.WithAttrs([]slog.Attr{slog.String("function", "horses")})
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(attrs...)
				_ = h.Handle(context.Background(), r)
			}
		})
	}
}
