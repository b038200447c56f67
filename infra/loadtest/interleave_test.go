package loadtest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync/atomic"
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

// Alternate runs every target once per round, in A B, B A order, each run against its own server only and
// for the whole duration.
func TestAlternate(t *testing.T) {
	t.Parallel()
	var hits [2]atomic.Int64
	urls := make([]string, 2)
	for i := range urls {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits[i].Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	o := Options{VUs: 2, Duration: 60 * time.Millisecond, ThinkMin: time.Millisecond, ThinkMax: 2 * time.Millisecond,
		NewScript: func(int, *rand.Rand) Script { return staticScript{} }}
	var legs []Leg
	res, err := Alternate(context.Background(), o, urls, 2, func(leg Leg, run func() (*Result, error)) (*Result, error) {
		legs = append(legs, leg)
		before := [2]int64{hits[0].Load(), hits[1].Load()}
		r, err := run()
		other := 1 - leg.Target
		if got := hits[other].Load() - before[other]; got != 0 {
			t.Errorf("leg %+v: %d requests reached the other target", leg, got)
		}
		if got := hits[leg.Target].Load() - before[leg.Target]; got == 0 {
			t.Errorf("leg %+v: no request reached its target", leg)
		}
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Leg{{0, 0}, {1, 0}, {1, 1}, {0, 1}}; !slices.Equal(legs, want) {
		t.Errorf("legs ran in the order %v, want %v", legs, want)
	}
	for tg, rs := range res {
		if len(rs) != 2 {
			t.Fatalf("target %d: %d results, want 2", tg, len(rs))
		}
		for _, r := range rs {
			if r.Elapsed < o.Duration || len(r.Recorder.Samples) == 0 {
				t.Errorf("target %d: a run of %s with %d samples, want the whole %s and some", tg, r.Elapsed, len(r.Recorder.Samples), o.Duration)
			}
		}
	}
	if _, err := Alternate(context.Background(), o, nil, 1, nil); err == nil {
		t.Error("Alternate without URLs: no error")
	}
}

// staticScript sends GET / again and again.
type staticScript struct{}

func (staticScript) Next() Step {
	return Step{Route: RouteItem, Method: http.MethodGet, Path: "/", Expect: []int{http.StatusOK}}
}
func (staticScript) Observe(Step, int, []byte) {}

func TestConcat(t *testing.T) {
	t.Parallel()
	run := func(vus int, starts ...time.Duration) *Result {
		rec := &Recorder{Reasons: map[Route]map[string]int64{RouteItem: {"status 500": 1}}}
		for _, s := range starts {
			rec.Samples = append(rec.Samples, Sample{Start: s, Latency: time.Millisecond, Status: 200, Route: RouteItem})
		}
		return &Result{Recorder: rec, Duration: 10 * time.Second, Elapsed: 11 * time.Second, VUsAt: func(time.Duration) int { return vus }}
	}
	a, b := run(3, time.Second, 9*time.Second), run(5, 2*time.Second)
	got := Concat(a, b)
	var starts []time.Duration
	for _, s := range got.Recorder.Samples {
		starts = append(starts, s.Start)
	}
	if want := []time.Duration{time.Second, 9 * time.Second, 12 * time.Second}; !slices.Equal(starts, want) {
		t.Errorf("sample starts %v, want %v", starts, want)
	}
	if got.Duration != 20*time.Second || got.Elapsed != 22*time.Second {
		t.Errorf("duration %s elapsed %s, want 20s and 22s", got.Duration, got.Elapsed)
	}
	if v1, v2 := got.VUsAt(5*time.Second), got.VUsAt(15*time.Second); v1 != 3 || v2 != 5 {
		t.Errorf("VUs at 5 s and 15 s: %d, %d; want 3, 5", v1, v2)
	}
	if n := got.Recorder.Reasons[RouteItem]["status 500"]; n != 2 {
		t.Errorf("reasons counted %d times, want 2", n)
	}
	if a.Recorder.Samples[0].Start != time.Second || b.Recorder.Samples[0].Start != 2*time.Second {
		t.Error("Concat changed the runs it joined")
	}
	sum := got.Recorder.Summarize(got.Duration, 10*time.Second, got.VUsAt)
	if len(sum.Windows) != 2 || sum.Windows[0].Stats.Requests != 2 || sum.Windows[1].Stats.Requests != 1 {
		t.Errorf("windows %+v, want 2 requests in the first and 1 in the second", sum.Windows)
	}
}
