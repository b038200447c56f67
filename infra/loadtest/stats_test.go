package loadtest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 95, 0},
		{"one value", ms(7), 50, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"nearest rank rounds up", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"p95 of four is the last", ms(1, 2, 3, 40), 95, 40 * time.Millisecond},
		{"tiny p is the min", ms(5, 6), 0.001, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeCountsErrorsAndExpected429(t *testing.T) {
	t.Parallel()
	a, b := &Recorder{}, &Recorder{}
	// VU a: 8 reads OK (1..8 ms), one read failing with 500 (100 ms).
	for i := 1; i <= 8; i++ {
		a.Record(Sample{Start: time.Duration(i) * time.Second, Latency: time.Duration(i) * time.Millisecond, Status: 200, Route: RouteItem}, "")
	}
	a.Record(Sample{Start: 9 * time.Second, Latency: 100 * time.Millisecond, Status: 500, Route: RouteItem, Outcome: Failed}, "status 500")
	// VU b: one create OK, one probe OK, two probes 429 (expected), one transport error.
	b.Record(Sample{Start: 0, Latency: 20 * time.Millisecond, Status: 201, Route: RouteCreate}, "")
	b.Record(Sample{Start: 1 * time.Second, Latency: 2 * time.Millisecond, Status: 200, Route: RouteProbe}, "")
	b.Record(Sample{Start: 2 * time.Second, Latency: 1 * time.Millisecond, Status: 429, Route: RouteProbe, Outcome: Expected429}, "")
	b.Record(Sample{Start: 3 * time.Second, Latency: 1 * time.Millisecond, Status: 429, Route: RouteProbe, Outcome: Expected429}, "")
	b.Record(Sample{Start: 15 * time.Second, Latency: 10 * time.Second, Route: RouteEdit, Outcome: Failed}, "transport: timeout")

	m := Merge(a, b)
	if m.Samples[0].Route != RouteCreate {
		t.Errorf("Merge: first sample %v, want the create (start 0)", m.Samples[0].Route)
	}
	sum := m.Summarize(20*time.Second, 10*time.Second, func(time.Duration) int { return 2 })

	wantJourney := Stats{
		Requests: 11, OK: 9, Errors: 2, ErrorRate: 2.0 / 11, RPS: 0.6,
		LatencyMS: Latency{P50: 6, P90: 100, P95: 10000, P99: 10000, Max: 10000, Mean: 923.273},
		Reasons:   map[string]int64{"GET /horses/{id}: status 500": 1, "PATCH /horses/{id}: transport: timeout": 1},
	}
	if diff := cmp.Diff(wantJourney, sum.Journey); diff != "" {
		t.Errorf("journey (-want +got):\n%s", diff)
	}
	probe := sum.Classes[ClassProbe]
	if probe.Requests != 3 || probe.Expected429 != 2 || probe.Errors != 0 || probe.OK != 1 {
		t.Errorf("probe class = %+v, want 3 requests, 1 OK, 2 expected 429s, 0 errors", probe)
	}
	write := sum.Classes[ClassWrite]
	if write.Requests != 2 || write.Errors != 1 {
		t.Errorf("write class = %+v, want 2 requests, 1 error", write)
	}
	if got := sum.Routes["GET /horses/{id}"].Reasons; !cmp.Equal(got, map[string]int64{"status 500": 1}) {
		t.Errorf("item route reasons = %v, want status 500: 1", got)
	}
	var got []int64
	for _, w := range sum.Windows {
		got = append(got, w.Stats.Requests)
	}
	if diff := cmp.Diff([]int64{10, 1}, got); diff != "" {
		t.Errorf("requests per window (-want +got):\n%s", diff)
	}
}

func TestStepOutcome(t *testing.T) {
	t.Parallel()
	read := Step{Expect: []int{200}}
	probe := Step{Expect: []int{200}, Probe: true}
	tests := []struct {
		name   string
		step   Step
		status int
		want   Outcome
	}{
		{"expected status", read, 200, OK},
		{"429 on an ordinary step is an error", read, 429, Failed},
		{"429 on the probe is expected", probe, 429, Expected429},
		{"500 on the probe is an error", probe, 500, Failed},
		{"no response", read, 0, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.step.Outcome(tt.status); got != tt.want {
				t.Errorf("Outcome(%d) = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
}

func TestKnee(t *testing.T) {
	t.Parallel()
	w := func(p95, errRate float64, n int64) Window {
		return Window{Stats: Stats{Requests: n, ErrorRate: errRate, LatencyMS: Latency{P95: p95}}}
	}
	tests := []struct {
		name string
		ws   []Window
		want int
	}{
		{"flat", []Window{w(5, 0, 100), w(6, 0, 100), w(7, 0, 100)}, -1},
		{"latency triples", []Window{w(5, 0, 100), w(6, 0, 100), w(16, 0, 100)}, 2},
		{"small absolute rise ignored", []Window{w(1, 0, 100), w(4, 0, 100)}, -1},
		{"errors", []Window{w(5, 0, 100), w(5, 0.01, 100)}, 1},
		{"sparse window skipped", []Window{w(5, 0, 100), w(500, 0.5, 3), w(6, 0, 100)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Knee(tt.ws, 2, 10, 0.001, 10); got != tt.want {
				t.Errorf("Knee = %d, want %d", got, tt.want)
			}
		})
	}
}
