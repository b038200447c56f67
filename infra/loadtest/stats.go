// Package loadtest is Corral's load generator: virtual users (VUs) that run a user journey or a closed
// loop against an HTTP API, exact latency recording per route and per route class, error accounting that
// tells deliberate rate-limit probes (expected 429s) from errors, and the JSON summary of a run. The
// command infra/loadtest/cmd/load drives it; `make load` runs it against the local runner.
package loadtest

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Route is what one request does, for statistics.
type Route uint8

// The routes of the scenarios.
const (
	RouteList   Route = iota // GET /horses (a feed-like page)
	RouteItem                // GET /horses/{id}
	RouteCreate              // POST /horses with an Idempotency-Key
	RouteEdit                // PATCH /horses/{id} with an Idempotency-Key
	RouteProbe               // GET /horses as the shared probe user, to hit the rate limit on purpose
	RouteLogin               // POST /auth/token (password login)
	numRoutes
)

var routeNames = [numRoutes]string{"GET /horses", "GET /horses/{id}", "POST /horses", "PATCH /horses/{id}", "GET /horses (rate-limit probe)", "POST /auth/token"}

// String returns the route key, e.g. "GET /horses/{id}".
func (r Route) String() string {
	if r >= numRoutes {
		return "unknown"
	}
	return routeNames[r]
}

// Class is a route class: the unit of the latency bars.
type Class string

// The route classes.
const (
	ClassRead  Class = "read"
	ClassWrite Class = "write"
	ClassProbe Class = "probe"
	ClassLogin Class = "login"
)

// Class returns the route's class.
func (r Route) Class() Class {
	switch r {
	case RouteList, RouteItem:
		return ClassRead
	case RouteCreate, RouteEdit:
		return ClassWrite
	case RouteProbe:
		return ClassProbe
	default:
		return ClassLogin
	}
}

// Outcome is how a request ended.
type Outcome uint8

// Outcomes. Only Failed counts as an error.
const (
	OK          Outcome = iota // the status the step expected
	Expected429                // a 429 the step provoked on purpose (the rate-limit probe)
	Failed                     // a transport error, a timeout or any status the step did not expect
)

// Sample is one finished request.
type Sample struct {
	Start   time.Duration // when it was sent, since the start of the run
	Latency time.Duration // from sending the request to reading the whole response body
	Status  int16         // 0 when there was no response
	Route   Route
	Outcome Outcome
}

// Recorder collects the samples of one VU; it is not safe for concurrent use (each VU owns one, and
// Merge joins them after the run).
type Recorder struct {
	Samples []Sample
	// Reasons counts failures by route and reason ("status 500", "transport: timeout", ...).
	Reasons map[Route]map[string]int64
}

// Record adds a sample; reason is recorded for a Failed sample only.
func (r *Recorder) Record(s Sample, reason string) {
	r.Samples = append(r.Samples, s)
	if s.Outcome != Failed {
		return
	}
	if r.Reasons == nil {
		r.Reasons = map[Route]map[string]int64{}
	}
	if r.Reasons[s.Route] == nil {
		r.Reasons[s.Route] = map[string]int64{}
	}
	r.Reasons[s.Route][reason]++
}

// Merge joins recorders into one, its samples ordered by start.
func Merge(recs ...*Recorder) *Recorder {
	out := &Recorder{Reasons: map[Route]map[string]int64{}}
	n := 0
	for _, r := range recs {
		n += len(r.Samples)
	}
	out.Samples = make([]Sample, 0, n)
	for _, r := range recs {
		out.Samples = append(out.Samples, r.Samples...)
		for route, m := range r.Reasons {
			if out.Reasons[route] == nil {
				out.Reasons[route] = map[string]int64{}
			}
			for k, v := range m {
				out.Reasons[route][k] += v
			}
		}
	}
	slices.SortStableFunc(out.Samples, func(a, b Sample) int { return int(a.Start - b.Start) })
	return out
}

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Stats summarises a set of samples.
type Stats struct {
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	Expected429 int64            `json:"expected_429"`
	Errors      int64            `json:"errors"`
	ErrorRate   float64          `json:"error_rate"` // Errors / Requests
	RPS         float64          `json:"rps"`        // Requests per second of the interval
	LatencyMS   Latency          `json:"latency_ms"`
	Reasons     map[string]int64 `json:"error_reasons,omitempty"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method: the
// smallest value that at least p% of the values do not exceed. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Summarize computes the stats of the samples that keep says to keep, over an interval of the given
// length (for RPS; 0 leaves RPS at 0).
func Summarize(samples []Sample, interval time.Duration, keep func(Sample) bool) Stats {
	var st Stats
	lat := make([]time.Duration, 0, len(samples))
	var sum time.Duration
	for _, s := range samples {
		if keep != nil && !keep(s) {
			continue
		}
		st.Requests++
		switch s.Outcome {
		case OK:
			st.OK++
		case Expected429:
			st.Expected429++
		default:
			st.Errors++
		}
		lat = append(lat, s.Latency)
		sum += s.Latency
	}
	if st.Requests == 0 {
		return st
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	if interval > 0 {
		st.RPS = math.Round(float64(st.Requests)/interval.Seconds()*10) / 10
	}
	st.LatencyMS = Latency{
		P50: ms(Percentile(lat, 50)), P90: ms(Percentile(lat, 90)), P95: ms(Percentile(lat, 95)),
		P99: ms(Percentile(lat, 99)), Max: ms(lat[len(lat)-1]), Mean: ms(sum / time.Duration(len(lat))),
	}
	return st
}

// Summary is the statistics of a run: the whole journey (every route but the probe), each class and each
// route, and time windows (for finding where a ramp bends).
type Summary struct {
	Journey Stats            `json:"journey"`
	Classes map[Class]Stats  `json:"classes"`
	Routes  map[string]Stats `json:"routes"`
	Windows []Window         `json:"windows,omitempty"`
}

// Window is the journey's stats over one slice of the run.
type Window struct {
	From   float64 `json:"from_s"`
	To     float64 `json:"to_s"`
	VUs    int     `json:"vus"` // VUs running at the end of the window
	Stats  Stats   `json:"stats"`
	Bended bool    `json:"bended,omitempty"` // see Knee
}

// Summarize builds the Summary of a merged recorder over a run of the given duration; window > 0 adds
// windows of that length, vusAt tells how many VUs ran at a time (nil leaves Window.VUs at 0).
func (r *Recorder) Summarize(duration, window time.Duration, vusAt func(time.Duration) int) Summary {
	journey := func(s Sample) bool { return s.Route != RouteProbe }
	sum := Summary{
		Journey: Summarize(r.Samples, duration, journey),
		Classes: map[Class]Stats{},
		Routes:  map[string]Stats{},
	}
	sum.Journey.Reasons = map[string]int64{}
	for route := range numRoutes {
		st := Summarize(r.Samples, duration, func(s Sample) bool { return s.Route == route })
		if st.Requests == 0 {
			continue
		}
		for k, v := range r.Reasons[route] {
			if st.Reasons == nil {
				st.Reasons = map[string]int64{}
			}
			st.Reasons[k] += v
			if route != RouteProbe {
				sum.Journey.Reasons[route.String()+": "+k] += v
			}
		}
		sum.Routes[route.String()] = st
	}
	if len(sum.Journey.Reasons) == 0 {
		sum.Journey.Reasons = nil
	}
	for _, c := range []Class{ClassRead, ClassWrite, ClassProbe, ClassLogin} {
		if st := Summarize(r.Samples, duration, func(s Sample) bool { return s.Route.Class() == c }); st.Requests > 0 {
			sum.Classes[c] = st
		}
	}
	if window > 0 {
		for from := time.Duration(0); from < duration; from += window {
			to := min(from+window, duration)
			w := Window{From: from.Seconds(), To: to.Seconds()}
			w.Stats = Summarize(r.Samples, to-from, func(s Sample) bool { return journey(s) && s.Start >= from && s.Start < to })
			if vusAt != nil {
				w.VUs = vusAt(to)
			}
			sum.Windows = append(sum.Windows, w)
		}
	}
	return sum
}

// Knee marks the first window where the journey bends and returns its index, or -1: the window's p95 is
// over factor times the lowest p95 of the windows before it and over minP95MS, or its error rate is over
// maxErrorRate. Windows with fewer than minRequests requests are skipped.
func Knee(ws []Window, factor, minP95MS, maxErrorRate float64, minRequests int64) int {
	best := math.Inf(1)
	for i := range ws {
		st := ws[i].Stats
		if st.Requests < minRequests {
			continue
		}
		if st.ErrorRate > maxErrorRate || (st.LatencyMS.P95 > factor*best && st.LatencyMS.P95 > minP95MS) {
			ws[i].Bended = true
			return i
		}
		best = min(best, st.LatencyMS.P95)
	}
	return -1
}
