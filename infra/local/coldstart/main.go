// Command coldstart measures the cold starts of every function as Lambda would run it: it builds each
// function like `sam build` does (static, -tags lambda.norpc, -s -w; for this machine's architecture),
// starts the binary N times against a local Lambda Runtime API (infra/local/runtimeapi) with the
// function's local environment, sends one API Gateway (or SQS, or scheduled) event from events/ and times
// process start to the first response. Beside them it measures a hello-world aws-lambda-go binary built
// the same way. It reports per function the p50 cold start and its difference to hello-world, the binary
// size, and the resident memory (VmRSS) after W warm invocations; `make coldstart` runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/infra/local/runtimeapi"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/awsparts"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// Targets of the report.
const (
	targetDeltaMS = 5.0
	targetSizeMB  = 15.0
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		slog.Error("coldstart", "error", err)
		os.Exit(1)
	}
}

// Function is one measured binary.
type Function struct {
	Name  string `json:"name"`
	Event string `json:"event"`
	// SizeBytes is the stripped binary's size.
	SizeBytes int64 `json:"size_bytes"`
	// InitMS are the times from process start to the first GET invocation/next (initialisation done);
	// FirstResponseMS from process start to the first response: the cold start.
	InitMS          []float64 `json:"init_ms"`
	FirstResponseMS []float64 `json:"first_response_ms"`
	// FirstResponseFaults are the process's minor page faults at its first response (/proc/<pid>/stat):
	// the memory it touched to get there. Where a page fault is dear (this machine's VM: tens of us
	// each) they explain most of a gap to hello-world, and unlike times they do not drift with the host.
	FirstResponseFaults []int64 `json:"first_response_minor_faults"`
	FaultsP50           int64   `json:"first_response_minor_faults_p50"`
	InitP50             float64 `json:"init_p50_ms"`
	P50                 float64 `json:"first_response_p50_ms"`
	P90                 float64 `json:"first_response_p90_ms"`
	DeltaHelloMS        float64 `json:"delta_to_hello_p50_ms"`
	// StartMS is the cold p50 less the warm p50: what the start itself adds to an invocation, without the
	// event's own work. It tells a slow start from a slow handler: a function whose first response waits
	// on deliberate work (auth-signup's password hash) is far from hello-world's cold p50 for that work
	// alone. Zero without warm invocations.
	StartMS float64 `json:"start_p50_ms"`
	// Warm is the number of warm invocations before RSS was read; WarmP50 their median latency.
	Warm    int     `json:"warm_invocations"`
	WarmP50 float64 `json:"warm_p50_ms"`
	RSSKB   int64   `json:"vmrss_kb_after_warm"`
	HWMKB   int64   `json:"vmhwm_kb"`
	// ColdStatuses counts the HTTP status codes (or "ok"/"error") of the measured first responses, Statuses
	// those of every invocation, cold and warm: a cold start answered by a refusal (a 429) is not the start
	// the event stands for, and shows here.
	ColdStatuses map[string]int `json:"cold_statuses"`
	Statuses     map[string]int `json:"statuses"`
	Pass         bool           `json:"pass"`
	Failure      string         `json:"failure,omitempty"`
}

// Report is the JSON output.
type Report struct {
	StartedAt time.Time   `json:"started_at"`
	GOARCH    string      `json:"goarch"`
	Runs      int         `json:"runs"`
	Warm      int         `json:"warm"`
	Functions []*Function `json:"functions"`
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	runs := fs.Int("runs", 20, "cold starts per function")
	warm := fs.Int("warm", 1000, "warm invocations before reading VmRSS")
	only := fs.String("fn", "", "comma list of functions (default: every directory in functions/)")
	out := fs.String("out", "", "JSON report (default .local/coldstart/coldstart-<time>.json)")
	goarch := fs.String("goarch", runtime.GOARCH, "architecture to build for (this machine's, to run here)")
	usePooler := fs.Bool("pooler", false, "connect the functions to Postgres through PgBouncer in session mode, as through RDS Proxy in AWS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 || *warm < 0 {
		return errors.New("-runs must be at least 1 and -warm not negative")
	}
	tplPath, err := samtemplate.Find(".")
	if err != nil {
		return err
	}
	root := filepath.Dir(tplPath)
	dir := filepath.Join(root, ".local", "coldstart")
	signer, err := localrun.DevSigner(filepath.Join(root, ".local"))
	if err != nil {
		return err
	}
	env, err := localrun.DevEnv(getenv, signer)
	if err != nil {
		return err
	}
	if env, err = publicKeyEnv(env, signer); err != nil {
		return err
	}
	// The local database is prepared as `make dev` prepares it (migrations, roles, seed).
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	deps, err := platform.NewDeps(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), awsparts.All()...)
	if err != nil {
		return err
	}
	ownerURL := env("DATABASE_OWNER_URL")
	if ownerURL == "" {
		ownerURL = localrun.DefaultOwnerURL
	}
	err = localrun.Prepare(ctx, ownerURL, deps.Sealer, deps.BlindIndex)
	var (
		queueEnv map[string]string
		goEnv    []string // the template's Go runtime settings, which Lambda starts every function with
		tpl      *samtemplate.Template
	)
	if err == nil {
		// The template's queues, as make dev creates them: the functions that send (outbox-relay, ...)
		// get their QUEUE_URL_* like in Lambda.
		if tpl, err = samtemplate.Load(tplPath); err == nil {
			goEnv = localrun.GoRuntimeEnv(tpl)
			var qs map[string]localrun.LocalQueue
			if qs, err = localrun.SetupQueues(ctx, deps, tpl); err == nil {
				queueEnv = localrun.QueueEnv(qs)
			}
		}
	}
	deps.Close()
	if err != nil {
		return err
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	// Before each start, the owner (whose token every start's event carries) gets a full budget again.
	fresh := func() error {
		return freshBudget(ctx, rdb, ratelimit.DefaultKeyPrefix, localrun.TenantA, localrun.OwnerA)
	}
	// The functions' environment: Lambda's own variables, the queue URLs, and every variable the
	// configuration reads, with the development defaults.
	dbEnv := map[string]string{}
	if *usePooler {
		keys := []string{"DATABASE_URL", "DATABASE_READ_URL", "DATABASE_MAINTENANCE_URL"}
		var urls []string
		for _, k := range keys {
			if v := env(k); v != "" {
				urls = append(urls, v)
			}
		}
		p, err := startPooler(ctx, urls)
		if err != nil {
			return err
		}
		defer p.stop()
		for _, k := range keys {
			if v := env(k); v != "" {
				dbEnv[k] = p.route(v)
			}
		}
		fmt.Fprintf(stdout, "Postgres through PgBouncer (session mode) on %s\n", p.addr)
	}
	baseEnv := functionEnv(func(k string) string {
		if v, ok := dbEnv[k]; ok {
			return v
		}
		if v, ok := queueEnv[k]; ok {
			return v
		}
		return env(k)
	})
	baseEnv = append(baseEnv, goEnv...)

	names, err := functionNames(root, *only)
	if err != nil {
		return err
	}
	fns := []*Function{{Name: "hello"}}
	for _, n := range names {
		fns = append(fns, &Function{Name: n})
	}
	tokens, err := tokens(signer, 100)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "building %d functions and hello-world for linux/%s\n", len(names), *goarch)
	// Per function: the event of each start (the unmeasured one first), then the warm events. Every
	// start's event comes from a source address of its own, fresh in each run of the rig, so that no start
	// is refused by a per-IP limit that earlier starts (or runs) spent.
	events := map[string]eventSet{}
	salt := mrand.N(uint16(0xffff)) + 1
	for _, f := range fns {
		pkg := "./functions/" + f.Name
		if f.Name == "hello" {
			pkg = "./infra/local/coldstart/hello"
		}
		bin := filepath.Join(dir, "bin", f.Name, "bootstrap")
		f.Statuses, f.ColdStatuses = map[string]int{}, map[string]int{}
		if err := build(ctx, root, pkg, bin, *goarch); err != nil {
			if ctx.Err() != nil || f.Name == "hello" {
				return err
			}
			f.Failure = err.Error() // reported; the other functions go on
			continue
		}
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		f.SizeBytes = st.Size()
		if f.Name == "hello" {
			f.Event = "(any)"
			events[f.Name] = eventSet{cold: [][]byte{[]byte(`{}`)}, warm: [][]byte{[]byte(`{}`)}}
			continue
		}
		path, err := pickEvent(filepath.Join(root, "events", f.Name))
		if err != nil {
			return err
		}
		f.Event, _ = filepath.Rel(root, path)
		starts := *runs + 1
		var set eventSet
		if set.cold, err = withTokens(path, slices.Repeat(tokens[:1], starts), sourceIPs(salt, 0, starts)); err != nil {
			return err
		}
		if set.warm, err = withTokens(path, tokens, sourceIPs(salt, starts, len(tokens))); err != nil {
			return err
		}
		events[f.Name] = set
	}
	if *usePooler {
		// One unmeasured start of each function first, so that the pooled server sessions have run every
		// function's statements, as a proxy's sessions have in a running system: a cold start then pays
		// for its own process and client connection, not for a server session's first sight of a table.
		fmt.Fprintln(stdout, "one unmeasured start of each function to warm the pooled sessions")
		for _, f := range fns {
			if f.Failure != "" {
				continue
			}
			scratch := &Function{Name: f.Name, Statuses: map[string]int{}, ColdStatuses: map[string]int{}}
			if err := fresh(); err != nil {
				return err
			}
			bin := filepath.Join(dir, "bin", f.Name, "bootstrap")
			if err := measure(ctx, scratch, bin, envFor(tpl, f.Name, baseEnv), events[f.Name].start(0), nil, 0, filepath.Join(dir, f.Name+".log")); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	fmt.Fprintf(stdout, "%d cold starts each (interleaved), then %d warm invocations for VmRSS\n", *runs, *warm)
	for i := range *runs {
		for _, f := range fns {
			if f.Failure != "" {
				continue
			}
			bin := filepath.Join(dir, "bin", f.Name, "bootstrap")
			w := 0
			if i == *runs-1 {
				w = *warm
			}
			if err := fresh(); err != nil {
				return err
			}
			if err := measure(ctx, f, bin, envFor(tpl, f.Name, baseEnv), events[f.Name].start(i+1), events[f.Name].warm, w, filepath.Join(dir, f.Name+".log")); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				f.Failure = err.Error()
			}
		}
	}
	hello := fns[0]
	summarize(hello, math.NaN())
	for _, f := range fns[1:] {
		summarize(f, hello.P50)
	}
	printTable(stdout, fns)
	rep := Report{StartedAt: time.Now().UTC(), GOARCH: *goarch, Runs: *runs, Warm: *warm, Functions: fns}
	path := *out
	if path == "" {
		path = filepath.Join(dir, "coldstart-"+rep.StartedAt.Format("20060102T150405Z")+".json")
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report written to %s\n", path)
	return nil
}

// functionEnv returns the environment a function gets in Lambda: the runtime's own variables (region,
// the execution role's credentials, PATH, LANG, TZ; the runtime API address is added per start) and every
// variable that config.Load reads, as env gives it. Nothing else of this shell is passed on: a developer's
// AWS_CA_BUNDLE, for one, makes the SDK parse a certificate bundle per client (4 ms each here) that Lambda
// never has.
func functionEnv(env func(string) string) []string {
	seen := map[string]bool{}
	var keys []string
	_, _ = config.Load(func(k string) string {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		return env(k)
	})
	region := env("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	out := []string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin", "LANG=en_US.UTF-8", "TZ=:UTC",
		"AWS_REGION=" + region, "AWS_DEFAULT_REGION=" + region, "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		// Local stand-ins for the execution role's session credentials, which Lambda puts in the environment.
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_SESSION_TOKEN=local",
	}
	for _, k := range keys {
		if v := env(k); v != "" && k != "AWS_REGION" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ownVariables are variables the template sets in the Environment of only some functions, not in the
// Globals: the rig gives each to the functions that declare it and no other. Given to every function,
// DATABASE_MAINTENANCE_URL made each cold start open and connect a second pool (a second Postgres session
// through the pooler) that in Lambda only the cross-tenant maintenance functions have. The signing keys go
// to the functions that issue tokens; every function verifies tokens with the development key's public
// half, JWT_PUBLIC_KEY (publicKeyEnv), as in AWS with template.yaml's JwtPublicKeys set.
var ownVariables = []string{"DATABASE_MAINTENANCE_URL", "JWT_SIGNING_KEYS", "JWT_SIGNING_KID"}

// publicKeyEnv is env with JWT_PUBLIC_KEY, unless set, the development signer's JWKS: what
// template.yaml's JwtPublicKeys gives every function (see `make jwks`).
func publicKeyEnv(env func(string) string, signer *auth.Signer) (func(string) string, error) {
	if env("JWT_PUBLIC_KEY") != "" {
		return env, nil
	}
	doc, err := signer.JWKS()
	if err != nil {
		return nil, err
	}
	return func(k string) string {
		if k == "JWT_PUBLIC_KEY" {
			return string(doc)
		}
		return env(k)
	}, nil
}

// envFor returns base without the ownVariables that the template does not set for the function name
// (hello-world and functions the template lacks get base).
func envFor(tpl *samtemplate.Template, name string, base []string) []string {
	f, ok := tpl.Function(name)
	if !ok {
		return base
	}
	out := make([]string, 0, len(base))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(ownVariables, k) && !slices.Contains(f.Env, k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func functionNames(root, only string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var all []string
	for _, e := range entries {
		if e.IsDir() {
			all = append(all, e.Name())
		}
	}
	if only == "" {
		return all, nil
	}
	var out []string
	for n := range strings.SplitSeq(only, ",") {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("no function %q in functions/", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// build compiles pkg like the Makefile's build target, for goarch.
func build(ctx context.Context, root, pkg, bin, goarch string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// pickEvent chooses a function's event: a read (get, list, search), else a scheduled or other valid
// event, else an invalid one.
func pickEvent(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("events for the function: %w", err)
	}
	rank := func(name string) int {
		switch {
		case strings.HasPrefix(name, "get"):
			return 0
		case strings.HasPrefix(name, "list"), strings.HasPrefix(name, "search"):
			return 1
		case strings.HasPrefix(name, "scheduled"):
			return 2
		case strings.HasPrefix(name, "invalid"):
			return 4
		}
		return 3
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no events in %s", dir)
	}
	sort.SliceStable(names, func(i, j int) bool {
		if rank(names[i]) != rank(names[j]) {
			return rank(names[i]) < rank(names[j])
		}
		return names[i] < names[j]
	})
	return filepath.Join(dir, names[0]), nil
}

// tokens signs n tokens of tenant A: the seeded owner's, then members of no seeded account, so that
// warm invocations spread over users and stay within the per-user limits (1,000 over 100 users is 10
// each).
func tokens(signer *auth.Signer, n int) ([]string, error) {
	out := make([]string, 0, n)
	for i := range n {
		u := localrun.SeedUser{Email: "owner@sunrise.test", UserID: localrun.OwnerA, TenantID: localrun.TenantA, Role: "owner"}
		if i > 0 {
			u = localrun.SeedUser{Email: fmt.Sprintf("coldstart-%d@sunrise.test", i), UserID: uuid.NewString(), TenantID: localrun.TenantA, Role: "member"}
		}
		tok, err := localrun.DevToken(signer, u)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	return out, nil
}

// freshBudget deletes the rate-limit keys of one user (under the limiter's key prefix), so that the next
// start finds that user's budget full, as a user's first request does. Every start's event carries the
// owner's token, and the starts come faster than the tightest per-user policies allow (queues-admin's:
// burst 10, 30 a minute), so without it the later starts of such a function were answered with a 429.
func freshBudget(ctx context.Context, rdb *redis.Client, prefix, tenantID, userID string) error {
	var keys []string
	iter := rdb.Scan(ctx, 0, ratelimit.UserKeyPattern(prefix, tenantID, userID), 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("rate-limit keys of the starts' user: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("rate-limit keys of the starts' user: %w", err)
	}
	return nil
}

// eventSet is a function's events: cold[k] for its k-th start (0 is the unmeasured one), warm cycled
// through by the warm invocations.
type eventSet struct {
	cold, warm [][]byte
}

// start returns the event of start k (the last one again when there are fewer).
func (s eventSet) start(k int) []byte { return s.cold[min(k, len(s.cold)-1)] }

// sourceIPs returns n source addresses from from on: IPv6 documentation addresses, each in a /64 of its
// own (public routes are limited per IP, an IPv6 address counted as its /64), under the run's salt.
func sourceIPs(salt uint16, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("2001:db8:%x:%x::1", salt, from+i)
	}
	return out
}

// withTokens reads an event; an API Gateway HTTP event (one with a routeKey) comes back once per token,
// with tokens[i] in its authorization header and ips[i] as its source IP, any other event once.
func withTokens(path string, tokens, ips []string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := ev["routeKey"]; !ok {
		return [][]byte{data}, nil
	}
	headers, _ := ev["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	rc, _ := ev["requestContext"].(map[string]any)
	httpCtx, _ := rc["http"].(map[string]any)
	var out [][]byte
	for i, tok := range tokens {
		headers["authorization"] = "Bearer " + tok
		ev["headers"] = headers
		if httpCtx != nil {
			httpCtx["sourceIp"] = ips[i]
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// measure starts the binary once against a fresh runtime API, times its first response to cold, and,
// when warm > 0, sends warm more (cycling through warmEvents) and reads its VmRSS.
func measure(ctx context.Context, f *Function, bin string, env []string, cold []byte, warmEvents [][]byte, warm int, logPath string) error {
	timeout := 30 * time.Second
	if f.Name == "outbox-relay" {
		// The relay polls until outbox.DefaultReserve before its deadline (see catalog.OutboxRelay): given
		// exactly that, each invocation starts and returns without polling, so its start is measured and
		// its minute of polling is not.
		timeout = outbox.DefaultReserve
	}
	api := runtimeapi.New(runtimeapi.Options{FunctionARN: "arn:aws:lambda:local:000000000000:function:" + f.Name, Timeout: timeout})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	defer func() {
		api.Close()
		_ = hs.Close()
	}()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin)
	if wrap := strings.Fields(os.Getenv("COLDSTART_WRAP")); len(wrap) > 0 && f.Name != "hello" {
		// A tracer around the function, e.g. COLDSTART_WRAP="strace -f -tt -o /tmp/cold.strace": its
		// start-up time is measured with the function's, so use it to look, not to measure.
		cmd = exec.Command(wrap[0], append(wrap[1:], bin)...)
	}
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(slices.Clip(env), "AWS_LAMBDA_RUNTIME_API="+l.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME="+f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT="+filepath.Dir(bin))
	cmd.Stdout, cmd.Stderr = logf, logf
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
		cancel()
	}()
	defer stopProcess(cmd, exited)
	res, err := api.Invoke(ictx, cold)
	if err != nil {
		return fmt.Errorf("first invocation: %w (log: %s)", err, logPath)
	}
	f.FirstResponseMS = append(f.FirstResponseMS, msOf(res.Received.Sub(start)))
	if n, err := minorFaults(cmd.Process.Pid); err == nil {
		f.FirstResponseFaults = append(f.FirstResponseFaults, n)
	}
	f.InitMS = append(f.InitMS, msOf(api.ReadyAt().Sub(start)))
	f.ColdStatuses[status(res)]++
	f.Statuses[status(res)]++
	if warm == 0 {
		return nil
	}
	lat := make([]float64, 0, warm)
	for i := range warm {
		t := time.Now()
		res, err := api.Invoke(ictx, warmEvents[i%len(warmEvents)])
		if err != nil {
			return fmt.Errorf("warm invocation %d: %w (log: %s)", i+1, err, logPath)
		}
		lat = append(lat, msOf(time.Since(t)))
		f.Statuses[status(res)]++
	}
	f.Warm = warm
	slices.Sort(lat)
	f.WarmP50 = percentile(lat, 50)
	f.RSSKB, f.HWMKB, err = memory(cmd.Process.Pid)
	return err
}

// stopProcess ends the process as Lambda ends a runtime that registered no extension (none of Corral's
// functions does): SIGKILL, without SIGTERM.
func stopProcess(cmd *exec.Cmd, exited chan struct{}) {
	_ = cmd.Process.Kill()
	<-exited
}

func status(r runtimeapi.Result) string {
	if r.Err != nil {
		return "error " + r.Err.Type
	}
	var v struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(r.Payload, &v) == nil && v.StatusCode != 0 {
		return "HTTP " + strconv.Itoa(v.StatusCode)
	}
	return "ok"
}

// minorFaults reads a process's minor page faults so far (minflt, the 10th field of /proc/<pid>/stat).
func minorFaults(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseMinorFaults(data)
}

// parseMinorFaults takes minflt from the text of /proc/<pid>/stat. The command name (field 2, in
// parentheses) may hold spaces and parentheses itself, so the fields are counted after its last ')'.
func parseMinorFaults(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("coldstart: /proc stat without a command name: %q", stat)
	}
	// After the name: state (3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt (10).
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 8 {
		return 0, fmt.Errorf("coldstart: /proc stat too short: %q", stat)
	}
	return strconv.ParseInt(f[7], 10, 64)
}

// memory reads VmRSS and VmHWM (kB) from /proc/<pid>/status.
func memory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := strings.Fields(string(v))
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch string(k) {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, nil
}

func msOf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func summarize(f *Function, helloP50 float64) {
	first := slices.Sorted(slices.Values(f.FirstResponseMS))
	initMS := slices.Sorted(slices.Values(f.InitMS))
	f.P50, f.P90, f.InitP50 = percentile(first, 50), percentile(first, 90), percentile(initMS, 50)
	if faults := slices.Sorted(slices.Values(f.FirstResponseFaults)); len(faults) > 0 {
		f.FaultsP50 = faults[(len(faults)-1)/2]
	}
	// hello-world itself (helloP50 NaN) is held to the size target only.
	if !math.IsNaN(helloP50) && len(first) > 0 {
		f.DeltaHelloMS = math.Round((f.P50-helloP50)*1000) / 1000
	}
	if f.Warm > 0 && len(first) > 0 {
		f.StartMS = math.Round((f.P50-f.WarmP50)*1000) / 1000
	}
	f.Pass = f.Failure == "" && len(first) > 0 && f.DeltaHelloMS <= targetDeltaMS && float64(f.SizeBytes)/1e6 <= targetSizeMB
}

// statusList writes counts of statuses as "HTTP 200 x20, HTTP 429 x1", sorted.
func statusList(counts map[string]int) string {
	st := make([]string, 0, len(counts))
	for k, v := range counts {
		st = append(st, fmt.Sprintf("%s x%d", k, v))
	}
	sort.Strings(st)
	return strings.Join(st, ", ")
}

func printTable(w io.Writer, fns []*Function) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function	size MB	init p50 ms	cold p50 ms	cold p90 ms	vs hello ms	cold-warm ms	faults p50	warm p50 ms	VmRSS MB		cold responses	all responses	")
	for _, f := range fns {
		verdict := "ok"
		if !f.Pass {
			verdict = "MISS"
		}
		cold, all := statusList(f.ColdStatuses), statusList(f.Statuses)
		if f.Failure != "" {
			cold, all = "FAILED", strings.SplitN(f.Failure, "\n", 2)[0]
		}
		start := "-"
		if f.Warm > 0 {
			start = fmt.Sprintf("%.2f", f.StartMS)
		}
		fmt.Fprintf(tw, "%s	%.1f	%.2f	%.2f	%.2f	%+.2f	%s	%d	%.2f	%.1f	%s	%s	%s	\n", f.Name, float64(f.SizeBytes)/1e6, f.InitP50, f.P50, f.P90,
			f.DeltaHelloMS, start, f.FaultsP50, f.WarmP50, float64(f.RSSKB)/1024, verdict, cold, all)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "targets: cold p50 within %.0f ms of hello-world, stripped size <= %.0f MB\n", targetDeltaMS, targetSizeMB)
}
