package loadtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Options describe one run.
type Options struct {
	// BaseURL is the API, e.g. http://127.0.0.1:3000 (no trailing slash).
	BaseURL string
	// VUs is the number of virtual users (with Ramp: the number reached at the end).
	VUs int
	// Duration is how long VUs send requests; requests in flight at the end finish and are counted.
	Duration time.Duration
	// Ramp starts the VUs one after another, evenly over Duration, instead of all at once.
	Ramp bool
	// ThinkMin and ThinkMax bound the pause after each step, drawn uniformly; both 0: a closed loop.
	ThinkMin, ThinkMax time.Duration
	// StartJitter delays each VU's first step by a uniform random time below it, so that VUs started
	// together do not send their first requests in one burst (users do not arrive in lockstep).
	StartJitter time.Duration
	// Timeout bounds each request (default 10 s); a request that takes longer is an error.
	Timeout time.Duration
	// Seed makes the VUs' random choices repeatable.
	Seed uint64
	// Client sends the requests (default NewClient(VUs)).
	Client *http.Client
	// NewScript returns VU vu's script.
	NewScript func(vu int, rng *rand.Rand) Script
}

// Result is what a run recorded.
type Result struct {
	Recorder *Recorder
	// Duration is the configured duration (the RPS interval); Elapsed includes the requests in flight at
	// the end.
	Duration, Elapsed time.Duration
	// VUsAt tells how many VUs were running at a time of the run.
	VUsAt func(time.Duration) int
}

// NewClient returns a client tuned for load: keep-alive with up to conns idle connections to the host
// (one per VU), no connection cap, no compression, no HTTP/2, no proxy and no redirects, so that the
// generator is not the bottleneck.
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: max(conns, 2),
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Run runs the VUs until Duration has passed or ctx ends, and returns what they recorded. It fails only on
// invalid options; failed requests are recorded, not returned.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.VUs <= 0 || o.Duration <= 0 || o.NewScript == nil || o.BaseURL == "" {
		return nil, errors.New("loadtest: VUs, Duration, NewScript and BaseURL are required")
	}
	if o.ThinkMax < o.ThinkMin {
		return nil, errors.New("loadtest: ThinkMax is below ThinkMin")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	client := o.Client
	if client == nil {
		client = NewClient(o.VUs)
	}
	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(o.Duration))
	defer cancel()
	vusAt := func(t time.Duration) int {
		if !o.Ramp {
			return o.VUs
		}
		return min(o.VUs, int(int64(t)*int64(o.VUs)/int64(o.Duration))+1)
	}
	recs := make([]*Recorder, o.VUs)
	var wg sync.WaitGroup
	for i := range o.VUs {
		recs[i] = &Recorder{}
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		vu := &vu{o: &o, client: client, script: o.NewScript(i, rng), rng: rng, rec: recs[i], start: start, parent: ctx}
		delay := time.Duration(0)
		if o.Ramp {
			delay = time.Duration(int64(o.Duration) * int64(i) / int64(o.VUs))
		}
		if o.StartJitter > 0 {
			delay += time.Duration(rng.Int64N(int64(o.StartJitter)))
		}
		wg.Go(func() {
			if delay > 0 && !sleep(runCtx, delay) {
				return
			}
			vu.run(runCtx)
		})
	}
	wg.Wait()
	return &Result{Recorder: Merge(recs...), Duration: o.Duration, Elapsed: time.Since(start), VUsAt: vusAt}, nil
}

type vu struct {
	o      *Options
	client *http.Client
	script Script
	rng    *rand.Rand
	rec    *Recorder
	start  time.Time
	parent context.Context
	buf    bytes.Buffer
}

func (v *vu) run(runCtx context.Context) {
	for runCtx.Err() == nil {
		s := v.script.Next()
		status, body, lat, sent, err := v.send(s)
		out := s.Outcome(status)
		reason := ""
		if err != nil {
			out, reason = Failed, "transport: "+transportReason(err)
		} else if out == Failed {
			reason = "status " + strconv.Itoa(status)
		}
		v.rec.Record(Sample{Start: sent.Sub(v.start), Latency: lat, Status: int16(status), Route: s.Route, Outcome: out}, reason)
		v.script.Observe(s, status, body)
		if v.o.ThinkMax > 0 && !s.Burst {
			think := v.o.ThinkMin + time.Duration(v.rng.Int64N(int64(v.o.ThinkMax-v.o.ThinkMin)+1))
			if !sleep(runCtx, think) {
				return
			}
		}
	}
}

// send sends s and reads the whole response; the body is returned when s.Parse.
func (v *vu) send(s Step) (status int, body []byte, lat time.Duration, sent time.Time, err error) {
	ctx, cancel := context.WithTimeout(v.parent, v.o.Timeout)
	defer cancel()
	var rd io.Reader
	if s.Body != nil {
		rd = bytes.NewReader(s.Body)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, v.o.BaseURL+s.Path, rd)
	if err != nil {
		return 0, nil, 0, time.Now(), err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "corral-load/1")
	if s.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	if s.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", s.IdempotencyKey)
	}
	sent = time.Now()
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, nil, time.Since(sent), sent, err
	}
	defer resp.Body.Close()
	v.buf.Reset()
	if s.Parse {
		_, err = v.buf.ReadFrom(resp.Body)
		body = v.buf.Bytes()
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, body, time.Since(sent), sent, err
}

// transportReason names a transport error briefly, for counting.
func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// sleep waits d or until ctx ends; it reports whether it waited the whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
