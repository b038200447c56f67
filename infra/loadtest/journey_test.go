package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// devLogin mints a recognisable fake token per user.
var devLogin = DevLogin{Mint: func(u *User) (string, error) { return "token-" + u.ID, nil }}

func loadRouter(t testing.TB) *samtemplate.Router {
	t.Helper()
	path, err := samtemplate.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return samtemplate.NewRouter(tpl)
}

// checkRequest fails the test when s is not a request the API accepts as valid: a route of template.yaml,
// a body its handler validates without problems, the headers the route needs.
func checkRequest(t *testing.T, router *samtemplate.Router, s Step) {
	t.Helper()
	u, err := url.Parse(s.Path)
	if err != nil {
		t.Fatalf("step %v: path %q: %v", s.Route, s.Path, err)
	}
	m, ok := router.Lookup(s.Method, u.Path)
	if !ok {
		t.Fatalf("step %v: %s %s matches no route of template.yaml", s.Route, s.Method, u.Path)
	}
	if want := strings.TrimSuffix(s.Route.String(), " (rate-limit probe)"); m.Route.Key() != want {
		t.Errorf("step %v: routed to %q, want %q", s.Route, m.Route.Key(), want)
	}
	if id, ok := m.Params["id"]; ok && uuid.Validate(id) != nil {
		t.Errorf("step %v: path id %q is not a UUID", s.Route, id)
	}
	if s.Token == "" {
		t.Errorf("step %v: no token", s.Route)
	}
	if len(s.Expect) == 0 {
		t.Errorf("step %v: expects no status", s.Route)
	}
	var problems []httpapi.FieldProblem
	switch s.Route {
	case RouteCreate:
		var in horse.CreateRequest
		decodeStrict(t, s.Body, &in)
		problems = in.Validate()
	case RouteEdit:
		var in horse.UpdateRequest
		decodeStrict(t, s.Body, &in)
		problems = in.Validate()
	default:
		if s.Body != nil {
			t.Errorf("step %v: a read with a body", s.Route)
		}
		if lim := u.Query().Get("limit"); lim == "" && s.Route == RouteList {
			t.Errorf("step %v: list without a limit", s.Route)
		}
	}
	if len(problems) > 0 {
		t.Errorf("step %v: body %s has problems %v", s.Route, s.Body, problems)
	}
	if (s.Route == RouteCreate || s.Route == RouteEdit) && uuid.Validate(s.IdempotencyKey) != nil {
		t.Errorf("step %v: Idempotency-Key %q", s.Route, s.IdempotencyKey)
	}
}

func decodeStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
}

func TestJourneyBuildsValidRequests(t *testing.T) {
	t.Parallel()
	router := loadRouter(t)
	user := &User{ID: uuid.NewString(), TenantID: uuid.NewString(), Email: "load-1@loadtest-a.test"}
	probe := &User{ID: uuid.NewString(), TenantID: user.TenantID, Email: "probe@loadtest-a.test", Token: "probe-token"}
	cfg := DefaultJourney
	cfg.ProbeChance = 0.2
	seed := []string{uuid.NewString(), uuid.NewString()}
	j := NewJourney(cfg, rand.New(rand.NewPCG(1, 2)), user, probe, devLogin, seed)

	counts := map[Route]int{}
	var prev Step
	replays, probes429, pages := 0, 0, 0
	created := 0
	const steps = 3000
	for i := range steps {
		s := j.Next()
		checkRequest(t, router, s)
		counts[s.Route]++
		switch {
		case s.Route == RouteProbe:
			if s.Token != probe.Token {
				t.Fatalf("probe step %d uses token %q, want the probe user's", i, s.Token)
			}
		case s.Token != "token-"+user.ID:
			t.Fatalf("step %d (%v) uses token %q, want the user's", i, s.Route, s.Token)
		}
		if s.IdempotencyKey != "" && s.IdempotencyKey == prev.IdempotencyKey {
			if !bytes.Equal(s.Body, prev.Body) || s.Path != prev.Path || !prev.Burst {
				t.Fatalf("step %d retries key %s with another request or after think time", i, s.IdempotencyKey)
			}
			replays++
		}
		if strings.Contains(s.Path, "cursor=") {
			pages++
		}
		// Answer like the API.
		status, body := http.StatusOK, []byte(nil)
		switch s.Route {
		case RouteList:
			body = fmt.Appendf(nil, `{"items":[{"id":%q},{"id":%q}],"next_cursor":"c%d"}`, uuid.NewString(), uuid.NewString(), i)
		case RouteCreate:
			status = http.StatusCreated
			created++
			body = fmt.Appendf(nil, `{"id":%q}`, uuid.NewString())
		case RouteProbe:
			if i%3 == 0 {
				status = http.StatusTooManyRequests
				probes429++
			}
		}
		j.Observe(s, status, body)
		prev = s
	}
	for _, r := range []Route{RouteList, RouteItem, RouteCreate, RouteEdit, RouteProbe} {
		if counts[r] == 0 {
			t.Errorf("no %v in %d steps: %v", r, steps, counts)
		}
	}
	if replays == 0 || pages == 0 || probes429 == 0 {
		t.Errorf("replays %d, next pages %d, probe 429s %d; want some of each", replays, pages, probes429)
	}
	// One step a second at most (think time 0.5 to 1.5 s): writes must stay under 60 a minute, reads under
	// 300, for one user.
	journey := steps - counts[RouteProbe]
	if share := float64(counts[RouteCreate]+counts[RouteEdit]) / float64(journey); share > 0.5 {
		t.Errorf("writes are %.2f of the journey; over 0.5 a user could exceed 60 writes a minute", share)
	}
}

func TestJourneyProbeStopsAtFirst429(t *testing.T) {
	t.Parallel()
	user := &User{ID: uuid.NewString(), TenantID: uuid.NewString()}
	probe := &User{ID: uuid.NewString(), TenantID: user.TenantID, Token: "probe"}
	cfg := DefaultJourney
	cfg.ProbeChance = 1
	j := NewJourney(cfg, rand.New(rand.NewPCG(3, 4)), user, probe, devLogin, []string{uuid.NewString()})
	for range 100 {
		s := j.Next()
		if s.Route != RouteProbe {
			j.Observe(s, http.StatusOK, []byte(`{"items":[]}`))
			continue
		}
		// The first probe request: answer 200 twice, then 429; the probe must end there.
		j.Observe(s, http.StatusOK, nil)
		j.Observe(j.Next(), http.StatusOK, nil)
		j.Observe(j.Next(), http.StatusTooManyRequests, nil)
		if next := j.Next(); next.Route == RouteProbe {
			t.Fatalf("probe went on after a 429")
		}
		return
	}
	t.Fatal("no probe in 100 steps with ProbeChance 1")
}

func TestPasswordLogin(t *testing.T) {
	t.Parallel()
	l := PasswordLogin{Password: "correct horse"}
	s, ok := l.Step(&User{Email: "a@b.test"})
	if !ok || s.Method != http.MethodPost || s.Path != "/auth/token" || !s.Parse {
		t.Fatalf("Step = %+v, %v; want a POST /auth/token that parses the response", s, ok)
	}
	var body map[string]string
	decodeStrict(t, s.Body, &body)
	if body["email"] != "a@b.test" || body["password"] != "correct horse" || body["grant_type"] != "password" {
		t.Errorf("body = %v", body)
	}
	if tok, err := l.Token(nil, []byte(`{"access_token":"abc"}`)); err != nil || tok != "abc" {
		t.Errorf("Token = %q, %v; want abc", tok, err)
	}
	if _, err := l.Token(nil, []byte(`{}`)); err == nil {
		t.Error("Token of a response without access_token: no error")
	}
}

func TestSaturationScripts(t *testing.T) {
	t.Parallel()
	router := loadRouter(t)
	tenant := uuid.NewString()
	users := []*User{{ID: uuid.NewString(), TenantID: tenant, Token: "a"}, {ID: uuid.NewString(), TenantID: tenant, Token: "b"}}
	horses := map[string][]string{tenant: {uuid.NewString(), uuid.NewString()}}
	owned := map[string][]string{users[0].ID: {uuid.NewString()}, users[1].ID: {uuid.NewString()}}
	for _, route := range []Route{RouteItem, RouteCreate, RouteEdit} {
		t.Run(route.String(), func(t *testing.T) {
			s := NewSaturation(rand.New(rand.NewPCG(5, 6)), route, users, 1, horses, owned)
			first, second := s.Next(), s.Next()
			checkRequest(t, router, first)
			checkRequest(t, router, second)
			if route == RouteEdit && first.Path != "/horses/"+owned[users[1].ID][0] {
				t.Errorf("edit by user b of %s, want its own horse", first.Path)
			}
			if first.Route != route || first.Token != "b" || second.Token != "a" {
				t.Errorf("steps %v (%s), %v (%s); want %v by users b then a", first.Route, first.Token, second.Route, second.Token, route)
			}
		})
	}
}

// With MidSession, journeys started together do not all begin with the same step: their first requests
// are spread over the session's steps, writes among them, while a journey that must log in still does
// that first. Without it, every journey begins with its list.
func TestJourneyMidSessionSpreadsTheFirstSteps(t *testing.T) {
	t.Parallel()
	seen := []string{uuid.NewString()}
	first := func(cfg JourneyConfig, login Login, i int) Route {
		u := &User{ID: uuid.NewString(), TenantID: uuid.NewString(), Email: fmt.Sprintf("load-%d@loadtest-a.test", i)}
		return NewJourney(cfg, rand.New(rand.NewPCG(7, uint64(i))), u, nil, login, seen).Next().Route
	}
	const n = 400
	counts := map[Route]int{}
	for i := range n {
		counts[first(DefaultJourney, devLogin, i)]++
	}
	if counts[RouteList] > n/2 || counts[RouteItem] == 0 || counts[RouteCreate]+counts[RouteEdit] == 0 {
		t.Errorf("first steps of %d journeys: %v; want them spread over lists, items and writes", n, counts)
	}
	fresh := DefaultJourney
	fresh.MidSession = false
	for i := range 50 {
		if r := first(fresh, devLogin, i); r != RouteList {
			t.Fatalf("without MidSession a journey began with %v, want its list", r)
		}
	}
	for i := range 50 {
		if r := first(DefaultJourney, PasswordLogin{Password: "correct horse"}, i); r != RouteLogin {
			t.Fatalf("a journey that must log in began with %v", r)
		}
	}
}
