package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Between starts the rig gives the starts' user a full budget again: a user-scoped policy that the
// earlier starts spent allows the next start, and other users' budgets are left as they were.
func TestFreshBudgetRefillsOnlyTheStartsUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts, err := redis.ParseURL(platformtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test:coldstart:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), "rate:"+prefix+"*").Result()
		if len(keys) > 0 {
			_ = rdb.Del(context.Background(), keys...).Err()
		}
	})
	const tenant, owner, other = "11111111-1111-4111-8111-111111111111", "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000002"
	admin := ratelimit.Policy{Name: "admin.queues.read", Rate: 30, Period: time.Minute, Burst: 1, Scope: ratelimit.ScopeUser}
	allowed := func(user string) bool {
		t.Helper()
		// A limiter per start, as each start is a process of its own.
		l := ratelimit.New(rdb, ratelimit.Overrides{}, ratelimit.WithKeyPrefix(prefix), ratelimit.WithLeaseMax(0))
		d, err := l.Allow(ctx, admin, tenant, user)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	for _, u := range []string{owner, other} {
		if !allowed(u) || allowed(u) {
			t.Fatalf("%s: want the first request allowed and the second refused (burst 1)", u)
		}
	}

	if err := freshBudget(ctx, rdb, prefix, tenant, owner); err != nil {
		t.Fatal(err)
	}
	if !allowed(owner) {
		t.Error("the starts' user is still refused after freshBudget")
	}
	if allowed(other) {
		t.Error("freshBudget refilled another user's budget")
	}
	if err := freshBudget(ctx, rdb, prefix, tenant, "a0000000-0000-4000-8000-000000000003"); err != nil {
		t.Errorf("freshBudget of a user without keys: %v", err)
	}
}
