package loadtest_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/infra/loadtest"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
)

// TestSeedMatchesTenants checks that the rows Seed writes are the ones Tenants names, and that seeding
// twice is harmless.
func TestSeedMatchesTenants(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	var tenants []loadtest.Tenant
	for range 2 {
		var err error
		if tenants, err = loadtest.Seed(ctx, env.DB.OwnerURL, loadtest.SeedOwners); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(loadtest.Tenants(loadtest.SeedOwners), tenants); diff != "" {
		t.Errorf("Seed and Tenants differ (-Tenants +Seed):\n%s", diff)
	}
	for _, tn := range tenants {
		var users, members, horses, owned int
		ids := []string{tn.Probe.ID}
		for _, u := range tn.Users {
			ids = append(ids, u.ID)
		}
		err := env.DB.Owner.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM users WHERE id = ANY($1::uuid[])),
			(SELECT count(*) FROM memberships WHERE tenant_id = $2 AND user_id = ANY($1::uuid[])),
			(SELECT count(*) FROM horses WHERE tenant_id = $2 AND id = ANY($3::uuid[])),
			(SELECT count(*) FROM horses WHERE tenant_id = $2 AND created_by = $4 AND id = ANY($5::uuid[]))`,
			ids, tn.ID, tn.Horses, tn.Users[0].ID, tn.Owned[tn.Users[0].ID]).Scan(&users, &members, &horses, &owned)
		if err != nil {
			t.Fatal(err)
		}
		want := [4]int{loadtest.SeedOwners + 1, loadtest.SeedOwners + 1, loadtest.SeedHorses, loadtest.SeedHorses / loadtest.SeedOwners}
		if got := [4]int{users, members, horses, owned}; got != want {
			t.Errorf("tenant %s: users, memberships, horses, horses of user 1 = %v, want %v", tn.ID, got, want)
		}
	}
}

// TestJourneyAgainstHorses runs the journey briefly through the real horses chain (authentication, rate
// limits, idempotency, Postgres) and checks it makes no errors and that the probe's 429s are expected.
// It asserts no timings.
func TestJourneyAgainstHorses(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	tenants, err := loadtest.Seed(ctx, env.DB.OwnerURL, loadtest.SeedOwners)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(platform.Handler(env.Deps, catalog.Horses(env.Deps)))
	t.Cleanup(srv.Close)
	login := loadtest.DevLogin{Mint: func(u *loadtest.User) (string, error) {
		return env.Signer.Sign(auth.Claims{Issuer: platformtest.Issuer, Audience: platformtest.Audience, Subject: u.ID, TenantID: u.TenantID, Role: "member"}, time.Hour)
	}}
	for _, tn := range tenants {
		if tn.Probe.Token, err = login.Mint(tn.Probe); err != nil {
			t.Fatal(err)
		}
	}
	cfg := loadtest.DefaultJourney
	cfg.ProbeChance = 0.5
	res, err := loadtest.Run(ctx, loadtest.Options{
		BaseURL: srv.URL, VUs: 2, Duration: time.Second, ThinkMin: 20 * time.Millisecond, ThinkMax: 40 * time.Millisecond,
		NewScript: func(vu int, rng *rand.Rand) loadtest.Script {
			tn := tenants[vu%2]
			return loadtest.NewJourney(cfg, rng, tn.Users[vu/2], tn.Probe, login, tn.Horses[:5])
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Recorder.Summarize(res.Duration, 0, nil)
	if sum.Journey.Errors != 0 {
		t.Errorf("journey errors %d: %v", sum.Journey.Errors, sum.Journey.Reasons)
	}
	if sum.Classes[loadtest.ClassRead].Requests == 0 || sum.Classes[loadtest.ClassWrite].Requests == 0 {
		t.Errorf("classes = %+v; want reads and writes", sum.Classes)
	}
	if p := sum.Classes[loadtest.ClassProbe]; p.Errors != 0 {
		t.Errorf("probe errors %d: %v", p.Errors, p.Reasons)
	}
	t.Logf("journey: %d requests, classes %v", sum.Journey.Requests, sum.Classes)
}

func TestJourneyUnauthenticatedIsAnError(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	srv := httptest.NewServer(platform.Handler(env.Deps, catalog.Horses(env.Deps)))
	t.Cleanup(srv.Close)
	users := []*loadtest.User{{ID: "10ad0001-0000-4000-8000-000000000001", TenantID: loadtest.LoadTenantA, Token: "not-a-token"}}
	res, err := loadtest.Run(context.Background(), loadtest.Options{
		BaseURL: srv.URL, VUs: 1, Duration: 100 * time.Millisecond, ThinkMin: 10 * time.Millisecond, ThinkMax: 10 * time.Millisecond,
		NewScript: func(_ int, rng *rand.Rand) loadtest.Script {
			return loadtest.NewSaturation(rng, loadtest.RouteItem, users, 0, map[string][]string{loadtest.LoadTenantA: {loadtest.HorseID(1, 0)}}, nil)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Recorder.Summarize(res.Duration, 0, nil).Journey
	if st.Requests == 0 || st.Errors != st.Requests || st.Reasons["GET /horses/{id}: status 401"] != st.Requests {
		t.Errorf("journey = %+v; want every request a 401 error", st)
	}
	_ = http.StatusUnauthorized
}
