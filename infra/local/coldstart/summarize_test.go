package main

import (
	"math"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	hello := &Function{Name: "hello", SizeBytes: 6_300_000, FirstResponseMS: []float64{2.9, 2.5, 2.6}, Warm: 10, WarmP50: 0.3}
	summarize(hello, math.NaN())
	if hello.P50 != 2.6 || hello.DeltaHelloMS != 0 || hello.StartMS != 2.3 || !hello.Pass {
		t.Fatalf("hello: p50 %v, vs hello %v, start %v, pass %v; want 2.6, 0, 2.3, true", hello.P50, hello.DeltaHelloMS, hello.StartMS, hello.Pass)
	}

	tests := []struct {
		name      string
		f         Function
		vsHello   float64
		start     float64
		pass      bool
		startCell string
	}{
		{"quick start", Function{SizeBytes: 13_900_000, FirstResponseMS: []float64{5.4, 5.1, 6.0}, Warm: 1000, WarmP50: 0.6},
			2.8, 4.8, true, "4.80"},
		// A start that waits on its handler's deliberate work: far from hello-world, and the start column
		// shows how much of that is the start.
		{"slow handler", Function{SizeBytes: 13_900_000, FirstResponseMS: []float64{73.3, 74.4, 72.9}, Warm: 1000, WarmP50: 39.8},
			70.7, 33.5, false, "33.50"},
		{"too big", Function{SizeBytes: 15_100_000, FirstResponseMS: []float64{3}, Warm: 1, WarmP50: 0.5}, 0.4, 2.5, false, "2.50"},
		{"no warm invocations", Function{SizeBytes: 13_000_000, FirstResponseMS: []float64{4}}, 1.4, 0, true, "-"},
		{"failed", Function{SizeBytes: 13_000_000, FirstResponseMS: []float64{4}, Failure: "exit status 1"}, 1.4, 0, false, "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Name = "fn"
			summarize(&f, hello.P50)
			if f.DeltaHelloMS != tc.vsHello || f.StartMS != tc.start || f.Pass != tc.pass {
				t.Fatalf("vs hello %v, start %v, pass %v; want %v, %v, %v", f.DeltaHelloMS, f.StartMS, f.Pass, tc.vsHello, tc.start, tc.pass)
			}
			var out strings.Builder
			printTable(&out, []*Function{&f})
			row := strings.Fields(strings.Split(out.String(), "\n")[1])
			if row[0] != "fn" || row[6] != tc.startCell {
				t.Fatalf("table row %q: want function fn and cold-warm %s in its 7th column", row, tc.startCell)
			}
		})
	}
}
