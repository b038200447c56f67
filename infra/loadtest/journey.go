package loadtest

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// User is a load-test account and, once logged in, its token.
type User struct {
	ID, TenantID, Email string
	Token               string
}

// Step is one request a script wants sent.
type Step struct {
	Route  Route
	Method string
	Path   string // with the query string
	Body   []byte // JSON, or nil
	// Token authenticates the request (empty: none).
	Token string
	// IdempotencyKey is sent as Idempotency-Key when set.
	IdempotencyKey string
	// Expect lists the statuses that count as OK.
	Expect []int
	// Probe marks a deliberate rate-limit probe: a 429 is Expected429, not an error.
	Probe bool
	// Parse asks for the response body (lists and creates feed the script's state).
	Parse bool
	// Burst asks for the next step at once, without think time (probe requests, a retried write).
	Burst bool
}

// Outcome classifies a response status (0 for a transport error) for this step.
func (s Step) Outcome(status int) Outcome {
	if status == http.StatusTooManyRequests && s.Probe {
		return Expected429
	}
	for _, e := range s.Expect {
		if status == e {
			return OK
		}
	}
	return Failed
}

// Script is what a VU runs: Next says what to send, Observe sees what came back. A Script belongs to one
// VU.
type Script interface {
	Next() Step
	Observe(s Step, status int, body []byte)
}

// Login gets a token for a user; it is pluggable: DevLogin signs locally, PasswordLogin posts to
// /auth/token. It returns the token or an error.
type Login interface {
	// Step returns the request that logs u in, or ok=false when logging in needs no request.
	Step(u *User) (s Step, ok bool)
	// Token returns the token from a login response (or, with no request, from u itself).
	Token(u *User, body []byte) (string, error)
}

// JourneyConfig shapes the user journey.
type JourneyConfig struct {
	// ProbeChance is the chance, per session, of a rate-limit probe (0: none).
	ProbeChance float64
	// ReloginChance is the chance, per session, of logging in again instead of reusing the token.
	ReloginChance float64
	// ProbeBurst bounds the requests of one probe; it stops at the first 429 (default 70: the read
	// policy's burst is 60).
	ProbeBurst int
	// PageSize is the limit of list requests (default 20).
	PageSize int
	// MidSession starts the journey at a random step of its first session (after its login, when it
	// needs one), as a user who was already there when the run began. VUs that all start with a fresh
	// session walk through it in step: started within the same second or two, they all reach their writes
	// a few seconds later, a burst that no real crowd makes (whose users are at every point of their
	// sessions at any moment).
	MidSession bool
}

// DefaultJourney is the journey of phase1 and phase2.
var DefaultJourney = JourneyConfig{ProbeChance: 0.02, ReloginChance: 0.05, ProbeBurst: 70, PageSize: 20, MidSession: true}

// Journey is a realistic user session repeated: log in or reuse the token, read a feed-like page and a
// few single items, sometimes a second page, create an own horse and edit an own horse (each with an
// Idempotency-Key; now and then the same request is retried with its key, as a client does after a lost
// response), and now and then a rate-limit probe as a shared probe user, which sends reads back to back
// until the first 429. Per session a user sends about six requests; with think time of about a second
// between them a user stays far below the per-user limits (300 reads and 60 writes a minute).
type Journey struct {
	cfg   JourneyConfig
	rng   *rand.Rand
	user  *User
	probe *User
	login Login

	queue  []stepKind
	seen   []string // horse ids read from lists
	own    []string // horses this user created
	cursor string
	// retry holds a write to send again with the same key.
	retry *Step
	// probing is the number of probe requests left in this probe (0: not probing).
	probing int
}

// NewJourney returns the journey of user u; probe is the shared rate-limit probe user of u's tenant
// (nil: no probes); seen seeds the horse ids it may read before its first list.
func NewJourney(cfg JourneyConfig, rng *rand.Rand, u, probe *User, login Login, seen []string) *Journey {
	if cfg.ProbeBurst <= 0 {
		cfg.ProbeBurst = 70
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 20
	}
	j := &Journey{cfg: cfg, rng: rng, user: u, probe: probe, login: login, seen: append([]string(nil), seen...)}
	if cfg.MidSession {
		j.plan()
		first := 0
		if j.queue[0] == stepLogin {
			first = 1
		}
		skip := j.rng.IntN(len(j.queue) - first)
		j.queue = append(j.queue[:first], j.queue[first+skip:]...)
	}
	return j
}

var _ Script = (*Journey)(nil)

// Next implements Script.
func (j *Journey) Next() Step {
	if j.probing > 0 {
		j.probing--
		return j.probeStep()
	}
	if j.retry != nil {
		s := *j.retry
		j.retry = nil
		return s
	}
	for {
		if len(j.queue) == 0 {
			j.plan()
		}
		k := j.queue[0]
		j.queue = j.queue[1:]
		if s, ok := j.step(k); ok {
			return s
		}
	}
}

// plan lays out the next session; its steps are made when their turn comes, from what the session has
// seen by then.
func (j *Journey) plan() {
	if j.user.Token == "" || j.rng.Float64() < j.cfg.ReloginChance {
		j.queue = append(j.queue, stepLogin)
	}
	j.queue = append(j.queue, stepList, stepItem, stepItem)
	if j.rng.Float64() < 0.5 {
		j.queue = append(j.queue, stepCreate)
	}
	if j.rng.Float64() < 0.5 {
		j.queue = append(j.queue, stepEdit)
	}
	if j.rng.Float64() < 0.3 {
		j.queue = append(j.queue, stepNextPage, stepItem)
	}
	if j.probe != nil && j.rng.Float64() < j.cfg.ProbeChance {
		j.queue = append(j.queue, stepProbe)
	}
}

// step makes the request of a planned step; ok is false when the step needs no request (a local login,
// or a next page when there is none).
func (j *Journey) step(k stepKind) (s Step, ok bool) {
	switch k {
	case stepLogin:
		if s, ok := j.login.Step(j.user); ok {
			return s, true
		}
		if tok, err := j.login.Token(j.user, nil); err == nil {
			j.user.Token = tok
		}
		return Step{}, false
	case stepList:
		s = j.listStep("")
	case stepNextPage:
		if j.cursor == "" {
			return Step{}, false
		}
		s = j.listStep(j.cursor)
	case stepItem:
		s = j.itemStep()
	case stepCreate:
		s = j.createStep()
	case stepEdit:
		s = j.editStep()
	case stepProbe:
		j.probing = j.cfg.ProbeBurst - 1
		return j.probeStep(), true
	}
	s.Token = j.user.Token
	if j.retry != nil {
		j.retry.Token = s.Token
		s.Burst = true
	}
	return s, true
}

// stepKind is a planned step of a session.
type stepKind uint8

const (
	stepLogin stepKind = iota
	stepList
	stepNextPage
	stepItem
	stepCreate
	stepEdit
	stepProbe
)

func (j *Journey) listStep(cursor string) Step {
	q := url.Values{"limit": {strconv.Itoa(j.cfg.PageSize)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return Step{Route: RouteList, Method: http.MethodGet, Path: "/horses?" + q.Encode(), Expect: []int{http.StatusOK}, Parse: true}
}

func (j *Journey) itemStep() Step {
	id := ""
	switch {
	case len(j.own) > 0 && j.rng.Float64() < 0.3:
		id = j.own[j.rng.IntN(len(j.own))]
	case len(j.seen) > 0:
		id = j.seen[j.rng.IntN(len(j.seen))]
	case len(j.own) > 0:
		id = j.own[j.rng.IntN(len(j.own))]
	default:
		return j.listStep("")
	}
	return Step{Route: RouteItem, Method: http.MethodGet, Path: "/horses/" + id, Expect: []int{http.StatusOK}}
}

var (
	breeds      = []string{"Thoroughbred", "Quarter Horse", "Arabian", "Fjord", "Hanoverian", "Connemara"}
	colors      = []string{"bay", "black", "chestnut", "grey", "dun", "palomino"}
	disciplines = []string{"dressage", "eventing", "show jumping", "western", "endurance"}
	names       = []string{"Comet", "Biscuit", "Juniper", "Maple", "Storm", "Willow", "Pepper", "Ranger"}
)

func (j *Journey) pick(xs []string) string { return xs[j.rng.IntN(len(xs))] }

func (j *Journey) createStep() Step {
	year := 1995 + j.rng.IntN(30)
	body := map[string]any{
		"name":       j.pick(names) + " " + strconv.Itoa(j.rng.IntN(10000)),
		"sex":        []string{"mare", "stallion", "gelding", "unknown"}[j.rng.IntN(4)],
		"breed":      j.pick(breeds),
		"color":      j.pick(colors),
		"birth_year": year,
		"discipline": j.pick(disciplines),
	}
	b, _ := json.Marshal(body)
	s := Step{Route: RouteCreate, Method: http.MethodPost, Path: "/horses", Body: b, IdempotencyKey: uuid.NewString(),
		Expect: []int{http.StatusCreated}, Parse: true}
	j.maybeRetry(s)
	return s
}

func (j *Journey) editStep() Step {
	if len(j.own) == 0 {
		return j.createStep()
	}
	id := j.own[j.rng.IntN(len(j.own))]
	var body map[string]any
	switch j.rng.IntN(3) {
	case 0:
		body = map[string]any{"description": "Updated " + strconv.Itoa(j.rng.IntN(1e6))}
	case 1:
		body = map[string]any{"color": j.pick(colors), "discipline": j.pick(disciplines)}
	default:
		body = map[string]any{"name": j.pick(names) + " " + strconv.Itoa(j.rng.IntN(10000))}
	}
	b, _ := json.Marshal(body)
	s := Step{Route: RouteEdit, Method: http.MethodPatch, Path: "/horses/" + id, Body: b, IdempotencyKey: uuid.NewString(),
		Expect: []int{http.StatusOK}}
	j.maybeRetry(s)
	return s
}

// maybeRetry sometimes schedules the same write, same key and same body, right after it: the server
// replays the first answer.
func (j *Journey) maybeRetry(s Step) {
	if j.rng.Float64() < 0.05 {
		r := s
		r.Parse = false
		j.retry = &r
	}
}

func (j *Journey) probeStep() Step {
	return Step{Route: RouteProbe, Method: http.MethodGet, Path: "/horses?limit=1", Token: j.probe.Token,
		Expect: []int{http.StatusOK}, Probe: true, Burst: true}
}

// Observe implements Script.
func (j *Journey) Observe(s Step, status int, body []byte) {
	switch s.Route {
	case RouteProbe:
		if status == http.StatusTooManyRequests {
			j.probing = 0
		}
	case RouteLogin:
		if status == http.StatusOK {
			if tok, err := j.login.Token(j.user, body); err == nil {
				j.user.Token = tok
			}
		}
	case RouteList:
		if status != http.StatusOK {
			return
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if json.Unmarshal(body, &page) != nil {
			return
		}
		j.cursor = page.NextCursor
		for _, it := range page.Items {
			if len(j.seen) >= 200 {
				j.seen[j.rng.IntN(len(j.seen))] = it.ID
			} else {
				j.seen = append(j.seen, it.ID)
			}
		}
	case RouteCreate:
		if status != http.StatusCreated || !s.Parse {
			return
		}
		var h struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &h) == nil && h.ID != "" && len(j.own) < 50 {
			j.own = append(j.own, h.ID)
		}
	}
}

// Saturation is the closed-loop script of one route: reads of single horses (GET /horses/{id}), or
// writes, each with a fresh Idempotency-Key: creates (POST /horses) or edits (PATCH /horses/{id}) of
// horses the user created. Users take turns.
type Saturation struct {
	rng    *rand.Rand
	users  []*User
	next   int
	route  Route
	horses map[string][]string // tenant -> horse ids
	owned  map[string][]string // user -> horse ids
}

// NewSaturation returns the script for route (RouteItem, RouteCreate or RouteEdit), cycling over users
// (which must hold tokens) from a VU-specific start; horses maps each tenant to horse ids of it, owned
// each user to the horses it created (for edits; every user must have one).
func NewSaturation(rng *rand.Rand, route Route, users []*User, start int, horses, owned map[string][]string) *Saturation {
	return &Saturation{rng: rng, users: users, next: start % len(users), route: route, horses: horses, owned: owned}
}

var _ Script = (*Saturation)(nil)

// Next implements Script.
func (s *Saturation) Next() Step {
	u := s.users[s.next]
	s.next = (s.next + 1) % len(s.users)
	ids := s.horses[u.TenantID]
	switch s.route {
	case RouteCreate:
		b, _ := json.Marshal(map[string]any{"name": "Load " + strconv.Itoa(s.rng.IntN(1e6)), "sex": "mare"})
		return Step{Route: RouteCreate, Method: http.MethodPost, Path: "/horses", Body: b, Token: u.Token,
			IdempotencyKey: uuid.NewString(), Expect: []int{http.StatusCreated}}
	case RouteEdit:
		b, _ := json.Marshal(map[string]any{"description": "Saturation " + strconv.Itoa(s.rng.IntN(1e6))})
		own := s.owned[u.ID]
		return Step{Route: RouteEdit, Method: http.MethodPatch, Path: "/horses/" + own[s.rng.IntN(len(own))], Body: b,
			Token: u.Token, IdempotencyKey: uuid.NewString(), Expect: []int{http.StatusOK}}
	default:
		return Step{Route: RouteItem, Method: http.MethodGet, Path: "/horses/" + ids[s.rng.IntN(len(ids))], Token: u.Token,
			Expect: []int{http.StatusOK}}
	}
}

// Observe implements Script.
func (s *Saturation) Observe(Step, int, []byte) {}

// ParseRoute reads a saturation route name: read, create (or post), edit (or patch).
func ParseRoute(name string) (Route, bool) {
	switch strings.ToLower(name) {
	case "read", "get":
		return RouteItem, true
	case "create", "post":
		return RouteCreate, true
	case "edit", "patch":
		return RouteEdit, true
	}
	return 0, false
}
