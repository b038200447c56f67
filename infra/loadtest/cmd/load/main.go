// Command load runs a load-test scenario against the Corral API and prints and writes its summary:
//
//	phase1      1,000 VUs for 30 s, the user journey with think time 0.5-1.5 s; exits 1 when the old
//	            system's bar (p95 < 200 ms, errors < 0.1%) is missed, and reports our own bar beside it
//	phase2      the same journey ramping towards 10,000 VUs; reports where latency or errors bend
//	saturation  closed loop without think time on one read and one write route, against the API and,
//	            with -reference-url, against the reference chain, with the ratios of the two
//
// `make load SCENARIO=...` builds it, starts what it needs and runs it; see infra/loadtest/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rocker-app/corral/infra/loadtest"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	if err != nil {
		slog.Error("load", "error", err)
		os.Exit(2)
	}
	os.Exit(code)
}

type flags struct {
	url, scenario, login, password, loginPath, ownerURL, out, referenceURL, write, pids, cpuProfile string
	vus, usersPerTenant, slices, rounds                                                             int
	duration, warmup, window                                                                        time.Duration
	seed                                                                                            uint64
}

func parseFlags(args []string, getenv func(string) string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&f.url, "url", "http://127.0.0.1:3000", "the API under test")
	fs.StringVar(&f.scenario, "scenario", "phase1", "phase1, phase2 or saturation")
	fs.IntVar(&f.vus, "vus", 0, "VUs (default: phase1 1000, phase2 10000, saturation 32)")
	fs.DurationVar(&f.duration, "duration", 0, "duration (default: phase1 30s, phase2 120s, saturation 15s per route and target)")
	fs.DurationVar(&f.warmup, "warmup", 0, "unrecorded warm-up of each target (default: phase1 5s, before the measured runs; saturation 2s, before each route; 0 for none)")
	fs.IntVar(&f.rounds, "rounds", 2, "phase1 with -reference-url: runs of each, alternating which goes first (A B, B A, ...)")
	fs.IntVar(&f.slices, "slices", 4, "saturation: the slices each route's run is cut into, the targets alternating (A B, B A, ...)")
	fs.DurationVar(&f.window, "window", 0, "length of the reported time windows (default: phase2 5s, else 5s for runs of 20s and more)")
	fs.IntVar(&f.usersPerTenant, "users-per-tenant", 0, "journey users per load tenant (default max(200, VUs/2): about one user per VU)")
	fs.StringVar(&f.login, "login", "token", "token acquisition: token (mint with the dev signer) or password (POST /auth/token)")
	fs.StringVar(&f.password, "password", getenv("LOAD_PASSWORD"), "password of the load users for -login=password")
	fs.StringVar(&f.loginPath, "login-path", "/auth/token", "path of the password login")
	fs.StringVar(&f.ownerURL, "owner-url", getenv("DATABASE_OWNER_URL"), "superuser URL to seed the load users with (empty: no seeding)")
	fs.StringVar(&f.out, "out", "", "JSON summary path (default .local/loadtest/<scenario>-<time>.json)")
	fs.StringVar(&f.referenceURL, "reference-url", "", "saturation: the reference chain, measured beside the API")
	fs.StringVar(&f.write, "write", "create", "saturation write route: create (POST /horses) or edit (PATCH /horses/{id})")
	fs.StringVar(&f.pids, "pids", "", "processes whose CPU use to report: label=pid,label=pid")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile (runtime/pprof) to this file")
	fs.Uint64Var(&f.seed, "seed", uint64(time.Now().UnixNano()), "random seed of the VUs")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	f.url = strings.TrimSuffix(f.url, "/")
	f.referenceURL = strings.TrimSuffix(f.referenceURL, "/")
	defaults := map[string]struct {
		vus int
		d   time.Duration
	}{"phase1": {1000, 30 * time.Second}, "phase2": {10000, 120 * time.Second}, "saturation": {32, 15 * time.Second}}
	d, ok := defaults[f.scenario]
	if !ok {
		return f, fmt.Errorf("unknown -scenario %q: phase1, phase2 or saturation", f.scenario)
	}
	if f.vus <= 0 {
		f.vus = d.vus
	}
	if f.duration <= 0 {
		f.duration = d.d
	}
	if f.warmup == 0 && !warmupSet(fs) {
		f.warmup = map[string]time.Duration{"phase1": 5 * time.Second, "saturation": 2 * time.Second}[f.scenario]
	}
	if f.window <= 0 && (f.scenario == "phase2" || f.duration >= 20*time.Second) {
		f.window = 5 * time.Second
	}
	if f.usersPerTenant <= 0 {
		f.usersPerTenant = max(200, (f.vus+1)/2)
	}
	if f.rounds < 1 {
		return f, fmt.Errorf("-rounds %d: at least 1", f.rounds)
	}
	if f.slices < 1 {
		return f, fmt.Errorf("-slices %d: at least 1", f.slices)
	}
	if f.login != "token" && f.login != "password" {
		return f, fmt.Errorf("unknown -login %q: token or password", f.login)
	}
	if _, ok := loadtest.ParseRoute(f.write); !ok || f.write == "read" {
		return f, fmt.Errorf("unknown -write %q: create or edit", f.write)
	}
	return f, nil
}

// warmupSet reports whether -warmup was given (so that -warmup 0 turns the default warm-up off).
func warmupSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == "warmup" })
	return set
}

// Report is the JSON summary of a run.
type Report struct {
	Scenario   string                   `json:"scenario"`
	StartedAt  time.Time                `json:"started_at"`
	Target     string                   `json:"target"`
	Settings   map[string]any           `json:"settings"`
	Summary    *loadtest.Summary        `json:"summary,omitempty"`
	Thresholds []Threshold              `json:"thresholds,omitempty"`
	Knee       *loadtest.Window         `json:"knee,omitempty"`
	MaxVUs     int                      `json:"max_vus_without_knee,omitempty"`
	Saturation []SaturationRun          `json:"saturation,omitempty"`
	Ratios     map[string]SaturationCmp `json:"ratios,omitempty"`
	CPU        *loadtest.CPUUsage       `json:"cpu,omitempty"`
	// Reference is the reference chain's run of the same journey (phase1 with -reference-url), and Legs
	// the figures of every run of both, in the order they ran.
	Reference *JourneySide `json:"reference,omitempty"`
	Legs      []JourneyLeg `json:"legs,omitempty"`
}

// JourneySide is the reference chain's side of a phase1 comparison.
type JourneySide struct {
	Target  string             `json:"target"`
	Summary *loadtest.Summary  `json:"summary"`
	CPU     *loadtest.CPUUsage `json:"cpu,omitempty"`
}

// JourneyLeg is one run of a phase1 comparison.
type JourneyLeg struct {
	Target      string  `json:"target"`
	Round       int     `json:"round"`
	JourneyP95  float64 `json:"journey_p95_ms"`
	ReadP95     float64 `json:"read_p95_ms"`
	WriteP95    float64 `json:"write_p95_ms"`
	Errors      int64   `json:"errors"`
	MachineCPU  float64 `json:"machine_cores"`
	FirstWindow float64 `json:"first_window_p95_ms,omitempty"`
}

// Threshold is one bar and whether the run met it.
type Threshold struct {
	Bar   string  `json:"bar"`
	Set   string  `json:"set"` // "old system" (decides the exit code) or "ours" (reported)
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Pass  bool    `json:"pass"`
	// Reference is the same figure of the reference chain, in a phase1 run beside it.
	Reference *float64 `json:"reference,omitempty"`
}

// SaturationRun is one closed-loop run of one route against one target.
type SaturationRun struct {
	Target string            `json:"target"` // corral or reference
	Route  string            `json:"route"`
	Stats  loadtest.Stats    `json:"stats"`
	CPU    loadtest.CPUUsage `json:"cpu"`
}

// SaturationCmp compares Corral with the reference on one route.
type SaturationCmp struct {
	Throughput float64 `json:"throughput"` // Corral's RPS / the reference's (target >= 0.8)
	P95        float64 `json:"p95"`        // Corral's p95 / the reference's (target <= 1.25)
	Pass       bool    `json:"pass"`
	// SliceThroughput is the throughput ratio in each slice (loadtest.SliceRatios): its spread is how
	// far Throughput can be trusted.
	SliceThroughput []float64 `json:"slice_throughput,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) (int, error) {
	f, err := parseFlags(args, getenv)
	if err != nil {
		return 2, err
	}
	tplPath, err := samtemplate.Find(".")
	if err != nil {
		return 2, err
	}
	root := filepath.Dir(tplPath)
	if f.cpuProfile != "" {
		// The generator shares the machine with what it measures: its profile says what it costs.
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return 2, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return 2, err
		}
		defer pprof.StopCPUProfile()
	}
	tenants := loadtest.Tenants(f.usersPerTenant)
	if f.ownerURL != "" {
		if tenants, err = loadtest.Seed(ctx, f.ownerURL, f.usersPerTenant); err != nil {
			return 2, err
		}
	}
	var login loadtest.Login
	switch f.login {
	case "token":
		signer, err := localrun.DevSigner(filepath.Join(root, ".local"))
		if err != nil {
			return 2, err
		}
		login = loadtest.DevLogin{Mint: func(u *loadtest.User) (string, error) {
			return localrun.DevToken(signer, localrun.SeedUser{Email: u.Email, UserID: u.ID, TenantID: u.TenantID, Role: "member"})
		}}
	default:
		login = loadtest.PasswordLogin{Path: f.loginPath, Password: f.password}
	}
	// The probe users (and, for saturation, the users) log in before the run.
	client := loadtest.NewClient(f.vus)
	for _, t := range tenants {
		if err := logIn(ctx, client, f.url, login, t.Probe); err != nil {
			return 2, err
		}
	}
	rep := &Report{Scenario: f.scenario, StartedAt: time.Now().UTC(), Target: f.url, Settings: map[string]any{
		"vus": f.vus, "duration": f.duration.String(), "users_per_tenant": f.usersPerTenant, "login": f.login, "seed": f.seed,
		"go_maxprocs": os.Getenv("GOMAXPROCS"),
	}}
	rep.Settings["warmup"] = f.warmup.String()
	if f.scenario == "saturation" {
		rep.Settings["slices"] = f.slices
	}
	if f.referenceURL != "" && f.scenario == "phase1" {
		rep.Settings["rounds"] = f.rounds
	}
	pids, err := parsePIDs(f.pids)
	if err != nil {
		return 2, err
	}
	code := 0
	switch f.scenario {
	case "saturation":
		err = saturation(ctx, f, tenants, login, pids, rep, stdout)
	default:
		code, err = journey(ctx, f, tenants, login, pids, rep, stdout)
	}
	if err != nil {
		return 2, err
	}
	path := f.out
	if path == "" {
		path = filepath.Join(root, ".local", "loadtest", f.scenario+"-"+rep.StartedAt.Format("20060102T150405Z")+".json")
	}
	if err := writeJSON(path, rep); err != nil {
		return 2, err
	}
	fmt.Fprintf(stdout, "\nsummary written to %s\n", path)
	return code, nil
}

func logIn(ctx context.Context, client *http.Client, base string, login loadtest.Login, u *loadtest.User) error {
	s, ok := login.Step(u)
	if !ok {
		tok, err := login.Token(u, nil)
		u.Token = tok
		return err
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, base+s.Path, strings.NewReader(string(s.Body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("login %s: %w", u.Email, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login %s: %s %s: status %d", u.Email, s.Method, s.Path, resp.StatusCode)
	}
	u.Token, err = login.Token(u, body)
	return err
}

func parsePIDs(s string) (map[string]int, error) {
	out := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		label, pid, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil {
			return nil, fmt.Errorf("-pids: %q is not label=pid", part)
		}
		out[label] = n
	}
	return out, nil
}

// journey runs phase1 or phase2.
func journey(ctx context.Context, f flags, tenants []loadtest.Tenant, login loadtest.Login,
	pids map[string]int, rep *Report, stdout io.Writer) (int, error) {
	seen := map[string][]string{}
	for _, t := range tenants {
		seen[t.ID] = t.Horses[:20]
	}
	opts := loadtest.Options{
		BaseURL: f.url, VUs: f.vus, Duration: f.duration, Ramp: f.scenario == "phase2",
		ThinkMin: 500 * time.Millisecond, ThinkMax: 1500 * time.Millisecond, Seed: f.seed,
		// Users arrive spread over one think time, not in one burst at 0 s.
		StartJitter: 1500 * time.Millisecond,
		NewScript: func(vu int, rng *rand.Rand) loadtest.Script {
			// VU i is user i/2 of tenant i%2: with the default users per tenant, one user per VU.
			t := tenants[vu%2]
			u := t.Users[(vu/2)%len(t.Users)]
			return loadtest.NewJourney(loadtest.DefaultJourney, rng, u, t.Probe, login, seen[t.ID])
		},
	}
	fmt.Fprintf(stdout, "%s: %d VUs%s for %s against %s (think 0.5-1.5 s, %d users per tenant, login=%s)\n",
		f.scenario, f.vus, map[bool]string{true: " (ramping up)", false: ""}[opts.Ramp], f.duration, f.url, f.usersPerTenant, f.login)
	urls, names := []string{f.url}, []string{"corral"}
	rounds := 1
	if f.referenceURL != "" && f.scenario == "phase1" {
		// The same journey against the reference chain, in the same minutes: what this machine allows today.
		urls, names, rounds = append(urls, f.referenceURL), append(names, "reference"), f.rounds
		fmt.Fprintf(stdout, "beside the reference chain at %s: %d runs of each, alternating (A B, B A, ...); figures over all runs of each\n",
			f.referenceURL, rounds)
	}
	// One client for the warm-up and every run: the VUs' keep-alive connections to each target are made
	// once, as API Gateway's to a deployment are, and not again at the start of every run.
	opts.Client = loadtest.NewClient(f.vus)
	if f.warmup > 0 && f.scenario == "phase1" {
		// Unrecorded: a server started for this run (make load starts the runner just before) first opens
		// its pools and fills its caches (verified tokens, prepared statements) under this load, which is a
		// cold start's business (make coldstart), not the steady state this scenario measures.
		fmt.Fprintf(stdout, "warm-up: %s of the journey against each target, not recorded\n", f.warmup)
		for _, u := range urls {
			w := opts
			w.BaseURL, w.Duration = u, f.warmup
			if _, err := loadtest.Run(ctx, w); err != nil {
				return 2, err
			}
		}
	}
	cpus := make([][]loadtest.CPUUsage, len(urls))
	var legs []JourneyLeg
	results, err := loadtest.Alternate(ctx, opts, urls, rounds, func(leg loadtest.Leg, run func() (*loadtest.Result, error)) (*loadtest.Result, error) {
		if len(urls) > 1 {
			settle(ctx, pids) // the previous run's queue work is not counted against this one
		}
		before := loadtest.TakeCPU(pids)
		res, err := run()
		if err != nil {
			return nil, err
		}
		cpu := loadtest.CPUBetween(before, loadtest.TakeCPU(pids))
		cpus[leg.Target] = append(cpus[leg.Target], cpu)
		if len(urls) > 1 {
			s := res.Recorder.Summarize(res.Duration, f.window, res.VUsAt)
			l := JourneyLeg{Target: names[leg.Target], Round: leg.Round, JourneyP95: s.Journey.LatencyMS.P95,
				ReadP95: s.Classes[loadtest.ClassRead].LatencyMS.P95, WriteP95: s.Classes[loadtest.ClassWrite].LatencyMS.P95,
				Errors: s.Journey.Errors, MachineCPU: cpu.Machine}
			if len(s.Windows) > 0 {
				l.FirstWindow = s.Windows[0].Stats.LatencyMS.P95
			}
			legs = append(legs, l)
			fmt.Fprintf(stdout, "  run %d %-9s journey p95 %6.2f  reads %6.2f  writes %6.2f ms  errors %d  first window p95 %6.2f ms  machine %.2f cores\n",
				leg.Round+1, l.Target, l.JourneyP95, l.ReadP95, l.WriteP95, l.Errors, l.FirstWindow, l.MachineCPU)
		}
		return res, nil
	})
	if err != nil {
		return 2, err
	}
	lengths := slices.Repeat([]time.Duration{f.duration}, rounds)
	side := func(tg int) (loadtest.Summary, loadtest.CPUUsage) {
		res := loadtest.Concat(results[tg]...)
		return res.Recorder.Summarize(res.Duration, f.window, res.VUsAt), loadtest.MeanCPU(cpus[tg], lengths)
	}
	sum, cpu := side(0)
	rep.CPU = &cpu
	rep.Summary = &sum
	rep.Legs = legs
	if len(urls) > 1 {
		rs, rcpu := side(1)
		rep.Reference = &JourneySide{Target: f.referenceURL, Summary: &rs, CPU: &rcpu}
	}
	j := sum.Journey
	read, write := sum.Classes[loadtest.ClassRead], sum.Classes[loadtest.ClassWrite]
	rep.Thresholds = []Threshold{
		{Bar: "journey p95 < 200 ms", Set: "old system", Value: j.LatencyMS.P95, Limit: 200, Pass: j.LatencyMS.P95 < 200},
		{Bar: "errors < 0.1%", Set: "old system", Value: j.ErrorRate * 100, Limit: 0.1, Pass: j.ErrorRate < 0.001},
		{Bar: "journey p95 <= 20 ms", Set: "ours", Value: j.LatencyMS.P95, Limit: 20, Pass: j.LatencyMS.P95 <= 20},
		{Bar: "reads p95 <= 10 ms", Set: "ours", Value: read.LatencyMS.P95, Limit: 10, Pass: read.LatencyMS.P95 <= 10},
		{Bar: "writes p95 <= 50 ms", Set: "ours", Value: write.LatencyMS.P95, Limit: 50, Pass: write.LatencyMS.P95 <= 50},
		{Bar: "0 errors", Set: "ours", Value: float64(j.Errors), Limit: 0, Pass: j.Errors == 0},
	}
	if r := rep.Reference; r != nil {
		rj := r.Summary.Journey
		values := []float64{rj.LatencyMS.P95, rj.ErrorRate * 100, rj.LatencyMS.P95,
			r.Summary.Classes[loadtest.ClassRead].LatencyMS.P95, r.Summary.Classes[loadtest.ClassWrite].LatencyMS.P95, float64(rj.Errors)}
		for i := range rep.Thresholds {
			rep.Thresholds[i].Reference = &values[i]
		}
	}
	if f.scenario == "phase2" {
		if k := loadtest.Knee(sum.Windows, 2, 20, 0.001, 50); k >= 0 {
			w := sum.Windows[k]
			rep.Knee = &w
			if k > 0 {
				rep.MaxVUs = sum.Windows[k-1].VUs
			}
		} else if len(sum.Windows) > 0 {
			rep.MaxVUs = sum.Windows[len(sum.Windows)-1].VUs
		}
	}
	printJourney(stdout, rep)
	if f.scenario == "phase1" {
		for _, t := range rep.Thresholds {
			if t.Set == "old system" && !t.Pass {
				return 1, nil
			}
		}
	}
	return 0, nil
}

// saturation runs the closed loop on the read route and the write route against Corral and, when given,
// the reference, for the same duration each, after an unrecorded warm-up of each. Each route's run is cut
// into slices in which the targets take turns, alternating which goes first (loadtest.SliceOrder), and
// each target's slices are summarised together: a slow drift of the machine lands on both sides alike.
func saturation(ctx context.Context, f flags, tenants []loadtest.Tenant, login loadtest.Login, pids map[string]int,
	rep *Report, stdout io.Writer) error {
	// A bounded set of users, each logged in once: the verified-token caches of both servers hold them. The
	// load tenants' limits must be raised for this (make load does: RATE_LIMIT_OVERRIDES, -read-rate ...).
	var users []*loadtest.User
	horses, owned := map[string][]string{}, map[string][]string{}
	client := loadtest.NewClient(f.vus)
	for _, t := range tenants {
		// The users that own seeded horses, so that edits are theirs.
		for _, u := range t.Users[:loadtest.SeedOwners] {
			owned[u.ID] = t.Owned[u.ID]
			if err := logIn(ctx, client, f.url, login, u); err != nil {
				return err
			}
			users = append(users, u)
		}
		horses[t.ID] = t.Horses
	}
	writeRoute, _ := loadtest.ParseRoute(f.write)
	targets := []struct{ name, url string }{{"corral", f.url}}
	if f.referenceURL != "" {
		targets = append(targets, struct{ name, url string }{"reference", f.referenceURL})
	}
	fmt.Fprintf(stdout, "saturation: closed loop, %d VUs, %s per route and target in %d interleaved slices (after %s warm-up), %d users\n",
		f.vus, f.duration, f.slices, f.warmup, len(users))
	lengths := loadtest.SliceDurations(f.duration, f.slices)
	perSlice := map[string][]float64{}
	for _, route := range []loadtest.Route{loadtest.RouteItem, writeRoute} {
		// One client per target for the whole route, so its keep-alive connections carry over the slices.
		clients := make([]*http.Client, len(targets))
		for i := range targets {
			clients[i] = loadtest.NewClient(f.vus)
		}
		opts := func(tg int, d time.Duration, seed uint64) loadtest.Options {
			return loadtest.Options{
				BaseURL: targets[tg].url, VUs: f.vus, Seed: seed, Client: clients[tg], Duration: d,
				NewScript: func(vu int, rng *rand.Rand) loadtest.Script {
					return loadtest.NewSaturation(rng, route, users, vu*len(users)/f.vus, horses, owned)
				},
			}
		}
		if f.warmup > 0 {
			for tg := range targets {
				settle(ctx, pids)
				if _, err := loadtest.Run(ctx, opts(tg, f.warmup, f.seed)); err != nil {
					return err
				}
			}
		}
		recs := make([][]*loadtest.Recorder, len(targets))
		cpus := make([][]loadtest.CPUUsage, len(targets))
		for i, order := range loadtest.SliceOrder(len(lengths), len(targets)) {
			for _, tg := range order {
				// The previous slice may have left work behind (Corral's queue consumers work off the events
				// its writes published): let it finish, so it is not counted against the next target.
				if waited, busy := settle(ctx, pids); busy {
					fmt.Fprintf(stdout, "  (still busy after waiting %s for the servers to go idle)\n", waited.Round(time.Second))
				}
				before := loadtest.TakeCPU(pids)
				res, err := loadtest.Run(ctx, opts(tg, lengths[i], f.seed+uint64(i)))
				if err != nil {
					return err
				}
				cpus[tg] = append(cpus[tg], loadtest.CPUBetween(before, loadtest.TakeCPU(pids)))
				recs[tg] = append(recs[tg], res.Recorder)
			}
		}
		if len(targets) == 2 {
			perSlice[route.String()] = loadtest.SliceRatios(recs[0], recs[1])
		}
		for tg, target := range targets {
			st := loadtest.Merge(recs[tg]...).Summarize(f.duration, 0, nil).Journey
			cpu := loadtest.MeanCPU(cpus[tg], lengths)
			rep.Saturation = append(rep.Saturation, SaturationRun{Target: target.name, Route: route.String(), Stats: st, CPU: cpu})
			procs := ""
			for _, label := range slices.Sorted(maps.Keys(cpu.Processes)) {
				procs += fmt.Sprintf(", %s %.2f", label, cpu.Processes[label])
			}
			fmt.Fprintf(stdout, "  %-9s %-20s %8.0f req/s  p50 %6.2f  p95 %6.2f  p99 %6.2f ms  errors %d  (cores: generator %.2f, machine %.2f%s)\n",
				target.name, route, st.RPS, st.LatencyMS.P50, st.LatencyMS.P95, st.LatencyMS.P99, st.Errors, cpu.Generator, cpu.Machine, procs)
			if len(st.Reasons) > 0 {
				fmt.Fprintf(stdout, "            errors: %v\n", st.Reasons)
			}
		}
	}
	if f.referenceURL == "" {
		return nil
	}
	rep.Ratios = map[string]SaturationCmp{}
	fmt.Fprintln(stdout, "\nCorral / reference (targets: throughput >= 0.80, p95 <= 1.25):")
	for i := 0; i+1 < len(rep.Saturation); i += 2 {
		c, r := rep.Saturation[i].Stats, rep.Saturation[i+1].Stats
		route := rep.Saturation[i].Route
		cmp := SaturationCmp{Throughput: ratio(c.RPS, r.RPS), P95: ratio(c.LatencyMS.P95, r.LatencyMS.P95), SliceThroughput: perSlice[route]}
		cmp.Pass = cmp.Throughput >= 0.8 && cmp.P95 <= 1.25
		rep.Ratios[route] = cmp
		spread := ""
		if s := cmp.SliceThroughput; len(s) > 1 {
			spread = fmt.Sprintf("  (slices %.2f-%.2f, median %.2f)", slices.Min(s), slices.Max(s), loadtest.Median(s))
		}
		fmt.Fprintf(stdout, "  %-20s throughput %.2f  p95 %.2f  %s%s\n", route, cmp.Throughput, cmp.P95, passText(cmp.Pass), spread)
	}
	return nil
}

// Settling between saturation runs: the servers count as idle when together they use less than
// idleCores over one settleWindow; settle waits at most settleMax.
const (
	idleCores    = 0.05
	settleWindow = 500 * time.Millisecond
	settleMax    = 60 * time.Second
)

// settle waits until the processes pids are idle, and returns how long it waited and whether they were
// still busy when it gave up (or ctx ended). Without pids it returns at once.
func settle(ctx context.Context, pids map[string]int) (time.Duration, bool) {
	if len(pids) == 0 {
		return 0, false
	}
	start := time.Now()
	for time.Since(start) < settleMax {
		before := loadtest.TakeCPU(pids)
		select {
		case <-ctx.Done():
			return time.Since(start), true
		case <-time.After(settleWindow):
		}
		total := 0.0
		for _, c := range loadtest.CPUBetween(before, loadtest.TakeCPU(pids)).Processes {
			total += c
		}
		if total < idleCores {
			return time.Since(start), false
		}
	}
	return time.Since(start), true
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return math.Round(a/b*1000) / 1000
}

func passText(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func printJourney(w io.Writer, rep *Report) {
	sum := rep.Summary
	if rep.Reference != nil {
		fmt.Fprintln(w, "\ncorral:")
	}
	printStats(w, sum)
	if len(sum.Windows) > 0 {
		fmt.Fprintln(w, "\nwindows (journey):")
		for _, win := range sum.Windows {
			mark := ""
			if win.Bended {
				mark = "  <- bends here"
			}
			fmt.Fprintf(w, "  %5.0f-%-5.0fs  VUs %5d  %7.1f req/s  p50 %7.2f  p95 %7.2f ms  errors %.3f%%%s\n", win.From, win.To, win.VUs,
				win.Stats.RPS, win.Stats.LatencyMS.P50, win.Stats.LatencyMS.P95, win.Stats.ErrorRate*100, mark)
		}
	}
	if rep.Scenario == "phase2" {
		if rep.Knee != nil {
			fmt.Fprintf(w, "knee: at %.0f-%.0f s with %d VUs (last window before it: %d VUs)\n", rep.Knee.From, rep.Knee.To, rep.Knee.VUs, rep.MaxVUs)
		} else {
			fmt.Fprintf(w, "knee: none up to %d VUs\n", rep.MaxVUs)
		}
	}

	if r := rep.Reference; r != nil {
		fmt.Fprintf(w, "\nreference chain (%s), the same journey in the same minutes:\n", r.Target)
		printStats(w, r.Summary)
	}
	fmt.Fprintln(w, "\nthresholds:")
	for _, t := range rep.Thresholds {
		ref := ""
		if t.Reference != nil {
			ref = fmt.Sprintf("  (reference %.3f)", *t.Reference)
		}
		fmt.Fprintf(w, "  %-11s %-22s %10.3f  %s%s\n", t.Set, t.Bar, t.Value, passText(t.Pass), ref)
	}
	printCPU(w, "cpu", rep.CPU)
	if r := rep.Reference; r != nil {
		printCPU(w, "cpu (reference runs)", r.CPU)
	}
}

func printCPU(w io.Writer, label string, c *loadtest.CPUUsage) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "%s: generator %.2f cores (%.0f%% of %d), machine %.2f cores", label, c.Generator, c.GeneratorShare*100, c.Cores, c.Machine)
	for _, p := range slices.Sorted(maps.Keys(c.Processes)) {
		fmt.Fprintf(w, ", %s %.2f", p, c.Processes[p])
	}
	fmt.Fprintln(w)
}

// printStats prints a journey summary's table: the journey, each class and each route.
func printStats(w io.Writer, sum *loadtest.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\t\trequests\treq/s\terrors\t429 (expected)\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	line := func(name string, st loadtest.Stats) {
		fmt.Fprintf(tw, "%s\t\t%d\t%.1f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t\n", name, st.Requests, st.RPS, st.Errors, st.Expected429,
			st.LatencyMS.P50, st.LatencyMS.P95, st.LatencyMS.P99, st.LatencyMS.Max)
	}
	line("journey (all but probe)", sum.Journey)
	for _, c := range []loadtest.Class{loadtest.ClassRead, loadtest.ClassWrite, loadtest.ClassLogin, loadtest.ClassProbe} {
		if st, ok := sum.Classes[c]; ok {
			line("class "+string(c), st)
		}
	}
	routes := make([]string, 0, len(sum.Routes))
	for r := range sum.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		line(r, sum.Routes[r])
	}
	_ = tw.Flush()
	if len(sum.Journey.Reasons) > 0 {
		fmt.Fprintf(w, "errors: %v\n", sum.Journey.Reasons)
	}
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return errors.Join(os.WriteFile(path, append(b, '\n'), 0o644))
}
