package localrun_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func repoTemplate(t testing.TB) (*samtemplate.Template, string) {
	t.Helper()
	tpl, root, err := samtemplate.FindAndLoad(".")
	if err != nil {
		t.Fatal(err)
	}
	return tpl, root
}

// seeded is a platform with the demo data of `make dev`.
func seeded(t *testing.T, modify ...func(*config.Config)) *platformtest.Env {
	t.Helper()
	env := platformtest.New(t, modify...)
	if err := localrun.Seed(context.Background(), env.DB.Owner, env.Deps.Sealer, env.Deps.BlindIndex); err != nil {
		t.Fatal(err)
	}
	return env
}

func tokenFor(t *testing.T, env *platformtest.Env, email string) string {
	t.Helper()
	u, ok := localrun.FindSeedUser(email)
	if !ok {
		t.Fatalf("no seed user %s", email)
	}
	return env.Token(t, u.TenantID, u.UserID, u.Role)
}

// Every function of template.yaml is built by exactly one catalog map, of its kind: HTTP functions serve
// exactly their template routes, queue consumers have SQS events, scheduled functions Schedule events;
// and nothing is in the catalog that is not in the template.
func TestTemplateRoutesMatchRouteTables(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	env := platformtest.New(t)
	fns, consumers, schedules := catalog.HTTP(), catalog.SQS(), catalog.Schedules()
	for _, f := range tpl.Functions {
		_, isHTTP := fns[f.Name]
		_, isSQS := consumers[f.Name]
		_, isSchedule := schedules[f.Name]
		kinds := 0
		for _, k := range []bool{isHTTP, isSQS, isSchedule} {
			if k {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("%s: in %d catalog maps (HTTP %v, SQS %v, Schedules %v), want exactly 1", f.Name, kinds, isHTTP, isSQS, isSchedule)
			continue
		}
		if isSQS != (len(f.SQS) > 0) {
			t.Errorf("%s: SQS consumer in the catalog %v, SQS events in template.yaml %d", f.Name, isSQS, len(f.SQS))
		}
		if isSchedule != (len(f.Schedules) > 0) {
			t.Errorf("%s: scheduled in the catalog %v, Schedule events in template.yaml %d", f.Name, isSchedule, len(f.Schedules))
		}
		if !isHTTP {
			if len(f.Routes) > 0 {
				t.Errorf("%s: has routes in template.yaml but no HTTP handler in the catalog", f.Name)
			}
			continue
		}
		var want, got []string
		for _, r := range f.Routes {
			want = append(want, r.Key())
		}
		for _, r := range fns[f.Name](env.Deps) {
			got = append(got, r.Pattern)
		}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: template routes vs route table (-template +code):\n%s", f.Name, diff)
		}
	}
	for _, m := range []map[string]bool{keys(fns), keys(consumers), keys(schedules)} {
		for name := range m {
			if _, ok := tpl.Function(name); !ok {
				t.Errorf("%s: in the catalog, not in template.yaml", name)
			}
		}
	}
	for _, f := range tpl.Functions {
		for _, s := range f.Schedules {
			if _, err := localrun.ParseSchedule(s.Expression); err != nil {
				t.Errorf("%s event %s: %v", f.Name, s.Event, err)
			}
		}
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func TestServerRoutesLikeAPIGateway(t *testing.T) {
	t.Parallel()
	tpl, _ := repoTemplate(t)
	env := seeded(t)
	srv, err := localrun.NewServer(tpl, env.Deps, catalog.HTTP())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	get := func(path, token string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}

	if res, body := get("/health", ""); res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
	res, body := get("/horses", "")
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("no token: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	if res, body := get("/no/such/route", ""); res.StatusCode != http.StatusNotFound || string(body) != `{"message":"Not Found"}` {
		t.Fatalf("unknown route: %d %s", res.StatusCode, body)
	}

	ownerA := tokenFor(t, env, "owner@sunrise.test")
	ownerB := tokenFor(t, env, "owner@northwind.test")
	if res, body := get("/horses/"+localrun.HorseA, ownerA); res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Midnight Star") {
		t.Fatalf("A reads its horse: %d %s", res.StatusCode, body)
	}
	if res, body := get("/horses/"+localrun.HorseA, ownerB); res.StatusCode != http.StatusNotFound {
		t.Fatalf("B reads A's horse: %d %s, want 404", res.StatusCode, body)
	}

	// The health policy allows a burst of 30 per client IP; past it: 429 with Retry-After.
	var last *http.Response
	for range 40 {
		if last, _ = get("/health", ""); last.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("past the limit: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// Every events/<function>/<case>.json file is a valid HTTP API event for a route of its function, and
// replayed through the Lambda adapter on the demo data it succeeds (cases named invalid-* must answer
// 4xx problem+json instead).
func TestEventsReplay(t *testing.T) {
	t.Parallel()
	tpl, root := repoTemplate(t)
	dirs, err := os.ReadDir(filepath.Join(root, "events"))
	if err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		fn := d.Name()
		if _, ok := tpl.Function(fn); !ok {
			t.Errorf("events/%s: no such function in template.yaml", fn)
			continue
		}
		files, err := filepath.Glob(filepath.Join(root, "events", fn, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			replayed++
			name := strings.TrimSuffix(filepath.Base(file), ".json")
			t.Run(fn+"/"+name, func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				env := seeded(t)
				iv := &localrun.Invoker{Template: tpl, Deps: env.Deps, Functions: catalog.HTTP(), SQS: catalog.SQS(), Schedules: catalog.Schedules()}
				invalid := strings.HasPrefix(name, "invalid-")
				f, _ := tpl.Function(fn)
				switch {
				case len(f.SQS) > 0:
					replaySQS(t, iv, fn, data, invalid)
					return
				case len(f.Schedules) > 0:
					err := iv.InvokeSchedule(context.Background(), fn, data)
					if invalid != (err != nil) {
						t.Fatalf("scheduled run: err = %v (case invalid: %v)", err, invalid)
					}
					return
				}
				resp, err := iv.InvokeHTTP(context.Background(), fn, data, tokenFor(t, env, "owner@sunrise.test"))
				if err != nil {
					t.Fatal(err)
				}
				if invalid {
					if resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.Headers["Content-Type"] != "application/problem+json" {
						t.Fatalf("status %d (%s), want a 4xx problem: %s", resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
					}
					return
				}
				if resp.StatusCode < 200 || resp.StatusCode >= 300 {
					t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
				}
				if resp.Body != "" && !json.Valid([]byte(resp.Body)) {
					t.Fatalf("body is not JSON: %s", resp.Body)
				}
			})
		}
	}
	if replayed == 0 {
		t.Fatal("no event files found")
	}
	// Every HTTP function has at least one event file per route; every other function at least one file.
	for _, f := range tpl.Functions {
		files, _ := filepath.Glob(filepath.Join(root, "events", f.Name, "*.json"))
		if len(f.Routes) == 0 && len(files) == 0 {
			t.Errorf("events/%s has no event file", f.Name)
		}
		var keys []string
		for _, file := range files {
			var ev struct {
				RouteKey string `json:"routeKey"`
			}
			data, err := os.ReadFile(file)
			if err == nil && json.Unmarshal(data, &ev) == nil {
				keys = append(keys, ev.RouteKey)
			}
		}
		for _, r := range f.Routes {
			if !slices.Contains(keys, r.Key()) {
				t.Errorf("events/%s has no event for %s", f.Name, r.Key())
			}
		}
	}
}

// replaySQS invokes a consumer on an SQS event file: a valid batch is handled with no failed message; an
// invalid-* batch has every message reported failed.
func replaySQS(t *testing.T, iv *localrun.Invoker, fn string, data []byte, invalid bool) {
	t.Helper()
	var ev events.SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := iv.InvokeSQS(context.Background(), fn, data)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	if invalid {
		want = len(ev.Records)
	}
	if len(resp.BatchItemFailures) != want {
		t.Fatalf("%d of %d messages failed (%v), want %d", len(resp.BatchItemFailures), len(ev.Records), resp.BatchItemFailures, want)
	}
}
