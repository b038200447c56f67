package catalog_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
)

// caller is a signed-in member of a tenant, for the end-to-end tests.
type caller struct {
	userID, token string
}

// fixture is a function served over its real dependencies with two tenants: A with an owner and a plain
// member, and B with an owner.
type fixture struct {
	env                     *platformtest.Env
	h                       http.Handler
	a, b                    platformtest.Tenant
	ownerA, memberA, ownerB caller
}

func newFixture(t *testing.T, fn platform.HTTPFunction) *fixture {
	t.Helper()
	env := platformtest.New(t)
	f := &fixture{env: env, h: platform.Handler(env.Deps, fn(env.Deps))}
	f.a, f.b = env.NewTenant(t, "tenant-a"), env.NewTenant(t, "tenant-b")
	f.ownerA = caller{f.a.OwnerID, env.Token(t, f.a.ID, f.a.OwnerID, "owner")}
	f.memberA = caller{f.a.MemberID, env.Token(t, f.a.ID, f.a.MemberID, "member")}
	f.ownerB = caller{f.b.OwnerID, env.Token(t, f.b.ID, f.b.OwnerID, "owner")}
	return f
}

// do sends method path with body (JSON, when not "") as c; a zero caller sends no token.
func (f *fixture) do(t *testing.T, c caller, method, path, body string) *platformtest.Response {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	return platformtest.Do(t, f.h, req, c.token)
}

// fieldsOf returns the field names of a problem's errors.
func fieldsOf(p platformtest.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func TestHorsesEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.Horses)

	type horseBody struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Sex         string  `json:"sex"`
		Breed       *string `json:"breed"`
		OwnerUserID *string `json:"owner_user_id"`
		CreatedBy   string  `json:"created_by"`
	}

	res := f.do(t, f.ownerA, "POST", "/horses", `{"name":"Comet","breed":"Arabian","birth_year":2015}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	var comet horseBody
	res.JSON(t, &comet)
	if got, want := res.Header.Get("Location"), "/horses/"+comet.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if comet.Sex != "unknown" || comet.OwnerUserID == nil || *comet.OwnerUserID != f.ownerA.userID || comet.CreatedBy != f.ownerA.userID {
		t.Errorf("created horse = %+v: want sex unknown, owned and created by the caller", comet)
	}

	t.Run("create validation", func(t *testing.T) {
		t.Parallel()
		p := f.do(t, f.ownerA, "POST", "/horses", `{"name":"","sex":"colt","birth_year":1900}`).Problem(t, http.StatusBadRequest)
		if diff := cmp.Diff([]string{"name", "sex", "birth_year"}, fieldsOf(p)); diff != "" {
			t.Errorf("problem fields (-want +got):\n%s", diff)
		}
		p = f.do(t, f.ownerA, "POST", "/horses", `{"name":"X","owner_user_id":"`+f.ownerB.userID+`"}`).Problem(t, http.StatusBadRequest)
		if diff := cmp.Diff([]string{"owner_user_id"}, fieldsOf(p)); diff != "" {
			t.Errorf("foreign owner: problem fields (-want +got):\n%s", diff)
		}
		f.do(t, f.ownerA, "POST", "/horses", `{"name":"X","colour":"bay"}`).Problem(t, http.StatusBadRequest)
	})

	t.Run("create and update replay under an Idempotency-Key", func(t *testing.T) {
		t.Parallel()
		// The first answer is recorded by the write itself (idempotency.Expect); a replay must repeat it.
		send := func(method, path, body string) *platformtest.Response {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "horse-once-"+method)
			return platformtest.Do(t, f.h, req, f.ownerA.token)
		}
		sameAnswer := func(first, again *platformtest.Response, status int) {
			t.Helper()
			if first.Status != status || again.Status != status {
				t.Fatalf("statuses %d, %d, want %d: %s", first.Status, again.Status, status, again.Body)
			}
			if first.Header.Get("Idempotent-Replayed") != "" || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("Idempotent-Replayed %q then %q, want none then true", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
			}
			for _, h := range []string{"Location", "Content-Type"} {
				if first.Header.Get(h) != again.Header.Get(h) {
					t.Errorf("%s %q, replayed %q", h, first.Header.Get(h), again.Header.Get(h))
				}
			}
			if string(first.Body) != string(again.Body) {
				t.Errorf("replayed body differs:\n%s\n%s", first.Body, again.Body)
			}
		}
		const create = `{"name":"Once & <again>","description":"quote \" \u2028"}`
		first := send("POST", "/horses", create)
		sameAnswer(first, send("POST", "/horses", create), http.StatusCreated)
		var h horseBody
		first.JSON(t, &h)
		if loc := first.Header.Get("Location"); loc != "/horses/"+h.ID {
			t.Errorf("Location %q, want /horses/%s", loc, h.ID)
		}
		var n int
		if err := f.env.DB.Owner.QueryRow(t.Context(), `SELECT count(*) FROM horses WHERE name = 'Once & <again>'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("horses created: %d (%v), want 1", n, err)
		}
		const patch = `{"color":"grey"}`
		updated := send("PATCH", "/horses/"+h.ID, patch)
		sameAnswer(updated, send("PATCH", "/horses/"+h.ID, patch), http.StatusOK)
		if got := f.do(t, f.ownerA, "GET", "/horses/"+h.ID, ""); string(got.Body) != string(updated.Body) {
			t.Errorf("GET after PATCH differs from the PATCH answer:\n%s\n%s", got.Body, updated.Body)
		}
		deleted := send("DELETE", "/horses/"+h.ID, "")
		sameAnswer(deleted, send("DELETE", "/horses/"+h.ID, ""), http.StatusNoContent)
		f.do(t, f.ownerA, "GET", "/horses/"+h.ID, "").Problem(t, http.StatusNotFound)
	})

	t.Run("concurrent duplicates create one horse", func(t *testing.T) {
		t.Parallel()
		const body = `{"name":"Raced"}`
		answers := make([]*platformtest.Response, 5)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				req := httptest.NewRequest("POST", "/horses", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "horse-raced")
				answers[i] = platformtest.Do(t, f.h, req, f.memberA.token)
			})
		}
		wg.Wait()
		var created []byte
		for _, a := range answers {
			switch a.Status {
			case http.StatusCreated:
				if created != nil && string(created) != string(a.Body) {
					t.Errorf("two different answers:\n%s\n%s", created, a.Body)
				}
				created = a.Body
			case http.StatusConflict: // still in flight when it arrived
			case http.StatusTooManyRequests: // the write limit's burst is shared with the other subtests
			default:
				t.Errorf("status %d: %s", a.Status, a.Body)
			}
		}
		if created == nil {
			t.Fatal("no request got 201")
		}
		var n int
		if err := f.env.DB.Owner.QueryRow(t.Context(), `SELECT count(*) FROM horses WHERE name = 'Raced'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("horses created: %d (%v), want 1", n, err)
		}
	})

	t.Run("authentication required", func(t *testing.T) {
		t.Parallel()
		f.do(t, caller{}, "GET", "/horses/"+comet.ID, "").Problem(t, http.StatusUnauthorized)
	})

	t.Run("get", func(t *testing.T) {
		t.Parallel()
		res := f.do(t, f.memberA, "GET", "/horses/"+comet.ID, "")
		if res.Status != http.StatusOK {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		var got horseBody
		res.JSON(t, &got)
		if diff := cmp.Diff(comet, got); diff != "" {
			t.Errorf("get (-want +got):\n%s", diff)
		}
		f.do(t, f.ownerB, "GET", "/horses/"+comet.ID, "").Problem(t, http.StatusNotFound)
		f.do(t, f.ownerA, "GET", "/horses/not-a-uuid", "").Problem(t, http.StatusNotFound)
	})

	t.Run("update and delete rights", func(t *testing.T) {
		t.Parallel()
		res := f.do(t, f.memberA, "POST", "/horses", `{"name":"Dancer"}`)
		if res.Status != http.StatusCreated {
			t.Fatalf("create: status %d: %s", res.Status, res.Body)
		}
		var dancer horseBody
		res.JSON(t, &dancer)
		path := "/horses/" + dancer.ID

		f.do(t, f.memberA, "PATCH", "/horses/"+comet.ID, `{"name":"Taken"}`).Problem(t, http.StatusForbidden)
		f.do(t, f.memberA, "DELETE", "/horses/"+comet.ID, "").Problem(t, http.StatusForbidden)
		f.do(t, f.ownerB, "PATCH", path, `{"name":"Taken"}`).Problem(t, http.StatusNotFound)
		f.do(t, f.ownerB, "DELETE", path, "").Problem(t, http.StatusNotFound)
		f.do(t, f.memberA, "PATCH", path, `{}`).Problem(t, http.StatusBadRequest)
		f.do(t, f.memberA, "PATCH", "/horses/nope", `{"name":"Y"}`).Problem(t, http.StatusNotFound)

		res = f.do(t, f.memberA, "PATCH", path, `{"name":"Dancer II","breed":""}`)
		if res.Status != http.StatusOK {
			t.Fatalf("creator's patch: status %d: %s", res.Status, res.Body)
		}
		var patched horseBody
		res.JSON(t, &patched)
		if patched.Name != "Dancer II" || patched.Breed != nil {
			t.Errorf("patched = %+v", patched)
		}
		if res := f.do(t, f.ownerA, "PATCH", path, `{"sex":"mare"}`); res.Status != http.StatusOK {
			t.Errorf("tenant owner's patch: status %d: %s", res.Status, res.Body)
		}
		if res := f.do(t, f.ownerA, "DELETE", path, ""); res.Status != http.StatusNoContent || len(res.Body) != 0 {
			t.Errorf("tenant owner's delete: status %d, body %q", res.Status, res.Body)
		}
		f.do(t, f.memberA, "GET", path, "").Problem(t, http.StatusNotFound)
	})
}

func TestHorsesListEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.Horses)
	for _, body := range []string{`{"name":"A","breed":"Arabian"}`, `{"name":"B","breed":"Friesian"}`, `{"name":"C","breed":"arabian"}`,
		`{"name":"D"}`, `{"name":"E","breed":"Arabian"}`} {
		res := f.do(t, f.ownerA, "POST", "/horses", body)
		if res.Status != http.StatusCreated {
			t.Fatalf("create: status %d: %s", res.Status, res.Body)
		}
	}
	if res := f.do(t, f.ownerB, "POST", "/horses", `{"name":"Foreign","breed":"Arabian"}`); res.Status != http.StatusCreated {
		t.Fatalf("create in B: status %d", res.Status)
	}

	type page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	// Every page of ?breed=arabian&limit=2, projected to name.
	var names []string
	var keys []string
	path := "/horses?breed=arabian&limit=2&fields=name"
	for i := 0; path != ""; i++ {
		if i > 5 {
			t.Fatal("pagination does not end")
		}
		res := f.do(t, f.memberA, "GET", path, "")
		if res.Status != http.StatusOK {
			t.Fatalf("list: status %d: %s", res.Status, res.Body)
		}
		var p page
		res.JSON(t, &p)
		for _, it := range p.Items {
			names = append(names, it["name"].(string))
			for k := range it {
				keys = append(keys, k)
			}
		}
		path = ""
		if p.NextCursor != "" {
			path = "/horses?breed=arabian&limit=2&fields=name&cursor=" + p.NextCursor
		}
	}
	if diff := cmp.Diff([]string{"E", "C", "A"}, names); diff != "" {
		t.Errorf("names across pages (-want +got):\n%s", diff)
	}
	for _, k := range keys {
		if k != "id" && k != "name" {
			t.Errorf("projected item has field %q", k)
		}
	}

	bad := []struct{ name, query, field string }{
		{"limit 0", "limit=0", "limit"},
		{"limit 101", "limit=101", "limit"},
		{"unknown field", "fields=name,secret", "fields"},
		{"forged cursor", "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cursor"},
		{"owner not a UUID", "owner_user_id=me", "owner_user_id"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := f.do(t, f.ownerA, "GET", "/horses?"+tt.query, "").Problem(t, http.StatusBadRequest)
			if diff := cmp.Diff([]string{tt.field}, fieldsOf(p)); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s", diff)
			}
		})
	}
}
