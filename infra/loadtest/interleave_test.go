package loadtest

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestSliceOrder(t *testing.T) {
	got := SliceOrder(4, 2)
	want := [][]int{{0, 1}, {1, 0}, {0, 1}, {1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SliceOrder(4, 2) = %v, want %v", got, want)
	}
	if got := SliceOrder(2, 1); !reflect.DeepEqual(got, [][]int{{0}, {0}}) {
		t.Fatalf("SliceOrder(2, 1) = %v", got)
	}
	// Every target runs in every slice, and each position is held equally often over an even count.
	first := map[int]int{}
	for _, o := range SliceOrder(6, 3) {
		if len(o) != 3 || o[0]+o[1]+o[2] != 3 {
			t.Fatalf("slice order %v is not a permutation of 0..2", o)
		}
		first[o[0]]++
	}
	if first[0] != 3 || first[2] != 3 {
		t.Fatalf("first positions %v, want targets 0 and 2 three times each", first)
	}
}

func TestSliceDurations(t *testing.T) {
	got := SliceDurations(10*time.Second+2, 4)
	var sum time.Duration
	for _, d := range got {
		sum += d
	}
	if len(got) != 4 || sum != 10*time.Second+2 || got[0] != 2500*time.Millisecond || got[3] != 2500*time.Millisecond+2 {
		t.Fatalf("SliceDurations = %v (sum %v)", got, sum)
	}
	if got := SliceDurations(time.Second, 0); len(got) != 1 || got[0] != time.Second {
		t.Fatalf("SliceDurations(1s, 0) = %v, want [1s]", got)
	}
}

func TestMeanCPU(t *testing.T) {
	us := []CPUUsage{
		{Cores: 2, Generator: 0.2, Machine: 1.0, Processes: map[string]float64{"runner": 0.5}},
		{Cores: 2, Generator: 0.5, Machine: 2.0, Processes: map[string]float64{"runner": 1.0, "reference": 0.3}},
	}
	got := MeanCPU(us, []time.Duration{time.Second, 3 * time.Second})
	want := CPUUsage{Cores: 2, Generator: 0.425, GeneratorShare: 0.213, Machine: 1.75,
		Processes: map[string]float64{"runner": 0.875, "reference": 0.225}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MeanCPU = %+v, want %+v", got, want)
	}
	if got := MeanCPU(nil, nil); !reflect.DeepEqual(got, CPUUsage{}) {
		t.Fatalf("MeanCPU(nil) = %+v, want zero", got)
	}
}

func TestSliceRatios(t *testing.T) {
	rec := func(n int) *Recorder {
		r := &Recorder{}
		for range n {
			r.Record(Sample{Route: RouteItem, Outcome: OK, Latency: time.Millisecond}, "")
		}
		return r
	}
	a := []*Recorder{rec(80), rec(90), rec(3)}
	b := []*Recorder{rec(100), rec(120), rec(0), rec(50)}
	if got, want := SliceRatios(a, b), []float64{0.8, 0.75, 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SliceRatios = %v, want %v", got, want)
	}
	if got := SliceRatios(nil, b); len(got) != 0 {
		t.Fatalf("SliceRatios(nil, b) = %v, want none", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{0.7}, 0.7}, {[]float64{0.9, 0.7, 0.8}, 0.8}, {[]float64{0.9, 0.7, 0.8, 0.6}, 0.75}} {
		in := slices.Clone(c.xs)
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
		if !reflect.DeepEqual(in, c.xs) {
			t.Errorf("Median changed its input: %v, was %v", c.xs, in)
		}
	}
}
