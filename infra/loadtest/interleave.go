package loadtest

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"
)

// SliceOrder is the order in which a comparison runs its targets (indexes 0..targets-1) in each of slices
// slices: forwards in even slices, backwards in odd ones (A B, B A, A B, ...). A run split this way and
// alternated gives every target the same share of the machine's drift (a checkpoint, a table that grows,
// another tenant of the host), which two long runs one after the other put all on one side. With an even
// number of slices, a drift linear in time falls on all targets equally.
func SliceOrder(slices, targets int) [][]int {
	order := make([][]int, max(slices, 0))
	for i := range order {
		order[i] = make([]int, targets)
		for j := range targets {
			if i%2 == 0 {
				order[i][j] = j
			} else {
				order[i][j] = targets - 1 - j
			}
		}
	}
	return order
}

// SliceDurations splits d into n slices that add up to d exactly (the last one takes the remainder).
func SliceDurations(d time.Duration, n int) []time.Duration {
	n = max(n, 1)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d / time.Duration(n)
	}
	out[n-1] += d - out[0]*time.Duration(n)
	return out
}

// MeanCPU is the use over several intervals of the given lengths, weighted by length: what one
// measurement over their sum would report, leaving out the time between them.
func MeanCPU(us []CPUUsage, lengths []time.Duration) CPUUsage {
	var out CPUUsage
	var total float64
	for i, u := range us {
		if i >= len(lengths) {
			break
		}
		w := lengths[i].Seconds()
		total += w
		out.Cores = u.Cores
		out.Generator += u.Generator * w
		out.Machine += u.Machine * w
		for label, c := range u.Processes {
			if out.Processes == nil {
				out.Processes = map[string]float64{}
			}
			out.Processes[label] += c * w
		}
	}
	if total == 0 {
		return out
	}
	round := func(x float64) float64 { return float64(int64(x/total*1000+0.5)) / 1000 }
	out.Generator, out.Machine = round(out.Generator), round(out.Machine)
	for label, c := range out.Processes {
		out.Processes[label] = round(c)
	}
	if out.Cores > 0 {
		out.GeneratorShare = float64(int64(out.Generator/float64(out.Cores)*1000+0.5)) / 1000
	}
	return out
}

// SliceRatios is the throughput of target a over that of target b in each slice: a[i] and b[i] are what
// the two recorded in slice i, which both ran for the same time, so the ratio of their request counts is
// that of their requests per second. The slices of one run give as many ratios, each from two neighbouring
// measurements, so their spread shows how far the run's overall ratio can be trusted. A slice in which b
// completed nothing gives 0.
func SliceRatios(a, b []*Recorder) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		if n := len(b[i].Samples); n > 0 {
			out[i] = math.Round(float64(len(a[i].Samples))/float64(n)*1000) / 1000
		}
	}
	return out
}

// Median is the median of xs (the mean of the middle two for an even count), 0 for none. xs is not
// changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Leg is one run of an alternating comparison: the target (an index into its URLs) and the round.
type Leg struct {
	Target, Round int
}

// Alternate runs o against each of urls in turn, rounds times, alternating which goes first (SliceOrder:
// A B, B A, ...), each run for the whole o.Duration. All runs share o.Client (one NewClient(o.VUs) when it
// is nil), whose keep-alive connections to each target wait idle while the other runs. around, when not
// nil, wraps each run (to wait for the servers to go idle first, or to measure their CPU); it must call
// run once and return what it returned. The results come back per target, in the order they ran.
func Alternate(ctx context.Context, o Options, urls []string, rounds int,
	around func(leg Leg, run func() (*Result, error)) (*Result, error)) ([][]*Result, error) {
	if len(urls) == 0 || rounds < 1 {
		return nil, errors.New("loadtest: Alternate needs a URL and at least one round")
	}
	if around == nil {
		around = func(_ Leg, run func() (*Result, error)) (*Result, error) { return run() }
	}
	if o.Client == nil {
		o.Client = NewClient(o.VUs)
	}
	out := make([][]*Result, len(urls))
	for round, order := range SliceOrder(rounds, len(urls)) {
		for _, tg := range order {
			leg := o
			leg.BaseURL = urls[tg]
			leg.Seed = o.Seed + uint64(round)
			res, err := around(Leg{Target: tg, Round: round}, func() (*Result, error) { return Run(ctx, leg) })
			if err != nil {
				return nil, err
			}
			out[tg] = append(out[tg], res)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Concat joins the results of runs made one after another (Alternate's runs of one target) into one
// result on one timeline: run k's samples are shifted by the Durations of the runs before it, so its
// windows follow theirs instead of adding to them, and Duration is the sum (requests per second stay per
// second of running).
func Concat(rs ...*Result) *Result {
	out := &Result{}
	recs := make([]*Recorder, len(rs))
	offsets := make([]time.Duration, len(rs))
	for i, r := range rs {
		offsets[i] = out.Duration
		shifted := &Recorder{Samples: slices.Clone(r.Recorder.Samples), Reasons: r.Recorder.Reasons}
		for j := range shifted.Samples {
			shifted.Samples[j].Start += offsets[i]
		}
		recs[i] = shifted
		out.Duration += r.Duration
		out.Elapsed += r.Elapsed
	}
	out.Recorder = Merge(recs...)
	out.VUsAt = func(t time.Duration) int {
		for i := len(rs) - 1; i >= 0; i-- {
			if t >= offsets[i] {
				if rs[i].VUsAt == nil {
					return 0
				}
				return rs[i].VUsAt(t - offsets[i])
			}
		}
		return 0
	}
	return out
}
