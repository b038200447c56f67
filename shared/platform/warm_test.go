package platform_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/holdproxy"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/syncbuf"
)

// eventually polls cond for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// The cold start's warm-up makes the first Postgres and Redis connections; a request arriving while they
// are being made uses them (waiting) instead of dialling its own, and a Redis connection says HELLO and
// nothing else before its first command.
func TestWarmConnectionsServeTheFirstRequest(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	cfg := env.Deps.Config
	var pg, rd *holdproxy.Proxy
	cfg.DatabaseURL, pg = holdproxy.Via(t, cfg.DatabaseURL)
	cfg.RedisURL, rd = holdproxy.Via(t, cfg.RedisURL)
	d, err := platform.NewDeps(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	limiter := ratelimit.New(d.Redis, ratelimit.Overrides{}, ratelimit.WithKeyPrefix(env.Prefix))
	policy := ratelimit.Policy{Name: "t.warm", Rate: 10, Period: time.Minute, Burst: 5, Scope: ratelimit.ScopeUser}

	wait := d.Warm(ctx)
	if !eventually(time.Second, func() bool { return pg.Accepted() == 1 && rd.Accepted() == 1 }) {
		t.Fatalf("the warm-up dialled %d Postgres and %d Redis connections, want 1 and 1", pg.Accepted(), rd.Accepted())
	}
	// The first request: a rate-limit decision and a query.
	decided, queried := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := limiter.Allow(ctx, policy, "tenant", "user")
		decided <- err
	}()
	go func() { queried <- d.DB.Ping(ctx) }()
	// Without the gates the request dials at once; 50ms shows it, well within the Redis client's 250ms read
	// timeout that the held warm-up connection is subject to.
	if eventually(50*time.Millisecond, func() bool { return pg.Accepted() > 1 || rd.Accepted() > 1 }) {
		t.Fatalf("the request dialled connections of its own: %d to Postgres, %d to Redis", pg.Accepted(), rd.Accepted())
	}
	pg.Release()
	rd.Release()
	wait()
	if err := <-decided; err != nil {
		t.Errorf("Allow: %v", err)
	}
	if err := <-queried; err != nil {
		t.Errorf("Ping: %v", err)
	}
	if st := limiter.Stats(); st.RedisErrors != 0 || st.Fallback != 0 {
		t.Errorf("limiter stats %+v: the decision did not come from Redis", st)
	}
	if p, r := pg.Accepted(), rd.Accepted(); p != 1 || r != 1 {
		t.Errorf("%d Postgres and %d Redis connections, want 1 and 1", p, r)
	}
	sent := strings.ToLower(rd.FirstSent())
	if !strings.Contains(sent, "hello") || !strings.Contains(sent, "ping") {
		t.Errorf("the Redis connection sent %q, want HELLO and the warm-up's PING", sent)
	}
	for _, extra := range []string{"setinfo", "maint_notifications"} {
		if strings.Contains(sent, extra) {
			t.Errorf("the Redis connection sent %s, a round trip a cold start waits for: %q", extra, sent)
		}
	}
}

// With Postgres and Redis down, the warm-up logs that and ends; requests then fail on their own (the
// limiter falls back, the query fails) instead of waiting.
func TestWarmWithDependenciesDown(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	cfg := env.Deps.Config
	// Nothing listens on port 1.
	cfg.DatabaseURL = "postgres://corral_app@127.0.0.1:1/corral?sslmode=disable&connect_timeout=2"
	cfg.RedisURL = "redis://127.0.0.1:1/0"
	var logs syncbuf.Buffer
	d, err := platform.NewDeps(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Warm(ctx)()
	for _, want := range []string{"warm-up: postgres not reachable yet", "warm-up: redis not reachable yet"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.DB.Ping(short); err == nil || short.Err() != nil {
		t.Errorf("Ping with Postgres down: %v (deadline reached: %v), want its own error at once", err, short.Err())
	}
	if err := d.Redis.Ping(short).Err(); err == nil || short.Err() != nil {
		t.Errorf("Redis PING with Redis down: %v (deadline reached: %v), want its own error at once", err, short.Err())
	}
}

// The maintenance pool (cleanup, partition maintenance, the outbox relay) is warmed too: its first run
// finds the connection made or on its way, and does not dial a second one.
func TestWarmMaintenancePool(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	cfg := env.Deps.Config
	if cfg.DatabaseMaintenanceURL == "" {
		t.Fatal("the test environment has no maintenance URL")
	}
	var mp *holdproxy.Proxy
	cfg.DatabaseMaintenanceURL, mp = holdproxy.Via(t, cfg.DatabaseMaintenanceURL)
	d, err := platform.NewDeps(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if mp.Accepted() != 0 {
		t.Fatalf("NewDeps dialled the maintenance pool %d times, want none before Warm", mp.Accepted())
	}
	wait := d.Warm(ctx)
	if !eventually(time.Second, func() bool { return mp.Accepted() == 1 }) {
		t.Fatalf("the warm-up dialled %d maintenance connections, want 1", mp.Accepted())
	}
	pinged := make(chan error, 1)
	go func() { pinged <- d.Maintenance.Ping(ctx) }()
	if eventually(50*time.Millisecond, func() bool { return mp.Accepted() > 1 }) {
		t.Fatalf("the first run dialled a maintenance connection of its own (%d)", mp.Accepted())
	}
	mp.Release()
	wait()
	if err := <-pinged; err != nil {
		t.Errorf("Ping: %v", err)
	}
	if n := mp.Accepted(); n != 1 {
		t.Errorf("%d maintenance connections, want 1", n)
	}
}
