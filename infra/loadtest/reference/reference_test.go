package reference_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/infra/loadtest"
	"github.com/rocker-app/corral/infra/loadtest/reference"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// TestSaturationScriptsAgainstReference runs each saturation route briefly against the reference chain
// on a real database and Redis: no errors; an unknown token is 401 and another tenant's horse 404.
func TestSaturationScriptsAgainstReference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	tenants, err := loadtest.Seed(ctx, db.OwnerURL, loadtest.SeedOwners)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts, err := redis.ParseURL(platformtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	key, err := auth.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(auth.SigningKey{KID: "k", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	high := redis_rate.Limit{Rate: 1_000_000, Period: time.Minute, Burst: 100_000}
	srv := httptest.NewServer(reference.New(reference.Config{DB: pool, Redis: rdb, Key: &key.PublicKey, Issuer: "iss", Audience: "aud", Read: high, Write: high}))
	t.Cleanup(srv.Close)

	var users []*loadtest.User
	horses, owned := map[string][]string{}, map[string][]string{}
	for _, tn := range tenants {
		horses[tn.ID] = tn.Horses
		for _, u := range tn.Users[:5] {
			if u.Token, err = signer.Sign(auth.Claims{Issuer: "iss", Audience: "aud", Subject: u.ID, TenantID: u.TenantID}, time.Hour); err != nil {
				t.Fatal(err)
			}
			users = append(users, u)
			owned[u.ID] = tn.Owned[u.ID]
		}
	}
	for _, route := range []loadtest.Route{loadtest.RouteItem, loadtest.RouteCreate, loadtest.RouteEdit} {
		res, err := loadtest.Run(ctx, loadtest.Options{
			BaseURL: srv.URL, VUs: 2, Duration: 200 * time.Millisecond,
			NewScript: func(vu int, rng *rand.Rand) loadtest.Script {
				return loadtest.NewSaturation(rng, route, users, vu, horses, owned)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		st := res.Recorder.Summarize(res.Duration, 0, nil).Journey
		if st.Requests == 0 || st.Errors != 0 {
			t.Errorf("%v: %+v, want requests and no errors", route, st)
		}
	}

	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/horses/"+tenants[1].Horses[0], users[0].Token); got != http.StatusNotFound {
		t.Errorf("tenant A reading tenant B's horse: %d, want 404", got)
	}
	if got := get("/horses", "not-a-token"); got != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", got)
	}
}
