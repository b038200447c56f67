package ratelimit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAllowBurstThenDeny(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	p := Policy{Name: "horses.write", Rate: 5, Period: time.Minute, Burst: 3, Scope: ScopeUser}

	for want := 2; want >= 0; want-- {
		d := mustAllow(t, l, p, tenantA, userA)
		if !d.Allowed || d.Remaining != want || d.Source != SourceRedis || d.RetryAfter != 0 {
			t.Fatalf("request %d: got %+v, want allowed from redis with %d remaining", 3-want, d, want)
		}
	}
	d := mustAllow(t, l, p, tenantA, userA)
	if d.Allowed || d.Source != SourceRedis || d.Remaining != 0 {
		t.Fatalf("4th request: got %+v, want denied by redis", d)
	}
	// One request costs Period/Rate = 12s; the burst of 3 was spent moments ago.
	if d.RetryAfter <= 10*time.Second || d.RetryAfter > 12*time.Second {
		t.Errorf("RetryAfter = %s, want just under 12s", d.RetryAfter)
	}
	if d.ResetAfter <= 34*time.Second || d.ResetAfter > 36*time.Second {
		t.Errorf("ResetAfter = %s, want just under 36s (3 requests × 12s)", d.ResetAfter)
	}

	want := Stats{Allowed: 3, Denied: 1}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestAllowKeysAreSeparate(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	user := Policy{Name: "horses.write", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}
	ip := Policy{Name: "login", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeIP}
	tenant := Policy{Name: "exports", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeTenant}

	// Spend each base key's only request.
	mustAllow(t, l, user, tenantA, userA)
	mustAllow(t, l, ip, "", "203.0.113.7")
	mustAllow(t, l, tenant, tenantA, userA)

	tests := []struct {
		name            string
		p               Policy
		tenant, subject string
		wantAllowed     bool
	}{
		{"same user key is spent", user, tenantA, userA, false},
		{"other user, same tenant", user, tenantA, userB, true},
		{"same user id, other tenant", user, tenantB, userA, true},
		{"other policy, same user", Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Scope: ScopeUser}, tenantA, userA, true},
		{"same IP key is spent", ip, "", "203.0.113.7", false},
		{"same IP, tenant ignored", ip, tenantA, "203.0.113.7", false},
		{"other IP", ip, "", "203.0.113.8", true},
		{"IPv6", ip, "", "2001:db8::1", true},
		{"other address in the same IPv6 /64", ip, "", "2001:db8::2:3", false},
		{"other IPv6 /64", ip, "", "2001:db8:0:1::1", true},
		{"IPv4-mapped IPv6 of a spent IPv4", ip, "", "::ffff:203.0.113.7", false},
		{"other policy, same IP", Policy{Name: "signup", Rate: 1, Period: time.Hour, Scope: ScopeIP}, "", "203.0.113.7", true},
		{"user scope id equal to the IP", Policy{Name: "login", Rate: 1, Period: time.Hour, Scope: ScopeUser}, tenantA, "203.0.113.7", true},
		{"tenant shared by its users", tenant, tenantA, userB, false},
		{"other tenant", tenant, tenantB, userA, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustAllow(t, l, tt.p, tt.tenant, tt.subject)
			if d.Allowed != tt.wantAllowed {
				t.Errorf("Allowed = %v, want %v (%+v)", d.Allowed, tt.wantAllowed, d)
			}
		})
	}
}

func TestAllowOverridesApplyToOneTenant(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	o, err := ParseOverrides(`{"` + strings.ToUpper(tenantA) + `": {"horses.write": {"rate": 2, "period": "1h", "burst": 4}}}`)
	if err != nil {
		t.Fatalf("ParseOverrides: %v", err)
	}
	l := New(rdb, o, WithKeyPrefix(uniquePrefix(t, rdb)))
	p := Policy{Name: "horses.write", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}
	other := Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}

	tests := []struct {
		name        string
		p           Policy
		tenant      string
		wantAllowed int
		wantPolicy  Policy
	}{
		{"overridden tenant", p, tenantA, 4, Policy{Name: "horses.write", Rate: 2, Period: time.Hour, Burst: 4, Scope: ScopeUser}},
		{"other tenant keeps the policy", p, tenantB, 1, p},
		{"other policy of the overridden tenant", other, tenantA, 1, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var allowed int
			var last Decision
			for range 6 {
				last = mustAllow(t, l, tt.p, tt.tenant, userA)
				if last.Allowed {
					allowed++
				}
			}
			if allowed != tt.wantAllowed {
				t.Errorf("allowed %d of 6, want %d", allowed, tt.wantAllowed)
			}
			if diff := cmp.Diff(tt.wantPolicy, last.Policy); diff != "" {
				t.Errorf("effective policy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShieldRefusesWithoutRedis(t *testing.T) {
	t.Parallel()
	rdb, commands := testRedis(t)
	prefix := uniquePrefix(t, rdb)
	clock := newFakeClock()
	l := New(rdb, Overrides{}, WithKeyPrefix(prefix), WithClock(clock.Now))
	p := Policy{Name: "horses.write", Rate: 1, Period: time.Minute, Burst: 1, Scope: ScopeUser}

	if d := mustAllow(t, l, p, tenantA, userA); !d.Allowed {
		t.Fatalf("first request denied: %+v", d)
	}
	denied := mustAllow(t, l, p, tenantA, userA)
	if denied.Allowed || denied.Source != SourceRedis {
		t.Fatalf("second request: got %+v, want denied by redis", denied)
	}

	// Forget the limit in Redis: only the shield can still refuse.
	if n := deleteKeys(t, rdb, prefix); n != 1 {
		t.Fatalf("deleted %d keys, want 1", n)
	}
	before := commands.n.Load()
	for i := range 10 {
		clock.Advance(time.Second)
		d := mustAllow(t, l, p, tenantA, userA)
		if d.Allowed || d.Source != SourceShield {
			t.Fatalf("request %d after the delete: got %+v, want refused by the shield", i, d)
		}
		if want := denied.RetryAfter - time.Duration(i+1)*time.Second; d.RetryAfter != want {
			t.Errorf("request %d: RetryAfter = %s, want %s", i, d.RetryAfter, want)
		}
	}
	if got := commands.n.Load() - before; got != 0 {
		t.Errorf("shield sent %d Redis commands, want 0", got)
	}

	// Once the shield's time has passed, Redis decides again: the key is gone there, so it allows.
	clock.Advance(denied.RetryAfter)
	d := mustAllow(t, l, p, tenantA, userA)
	if !d.Allowed || d.Source != SourceRedis {
		t.Errorf("after the shield expired: got %+v, want allowed by redis", d)
	}
	if commands.n.Load() == before {
		t.Error("no Redis command after the shield expired")
	}

	want := Stats{Allowed: 2, Denied: 11, ShieldHits: 10}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestAllowRecoversAfterWindow(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	// One request per 200ms, burst 1: a short real wait, since Redis keeps its own time.
	p := Policy{Name: "ping", Rate: 5, Period: time.Second, Burst: 1, Scope: ScopeIP}

	// Spend the burst; a slow machine may see a refill in between, so ask until denied.
	var d Decision
	for range 20 {
		if d = mustAllow(t, l, p, "", "198.51.100.1"); !d.Allowed {
			break
		}
	}
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 200*time.Millisecond {
		t.Fatalf("got %+v, want denied with RetryAfter in (0, 200ms]", d)
	}
	time.Sleep(d.RetryAfter + 30*time.Millisecond)
	d = mustAllow(t, l, p, "", "198.51.100.1")
	if !d.Allowed || d.Source != SourceRedis {
		t.Errorf("after RetryAfter: got %+v, want allowed by redis", d)
	}
}

func TestAllowIsAtomicUnderConcurrency(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	p := Policy{Name: "horses.write", Rate: 10, Period: time.Hour, Scope: ScopeTenant}

	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if _, err := l.Allow(context.Background(), p, tenantA, ""); err != nil {
				t.Errorf("Allow: %v", err)
			}
		})
	}
	wg.Wait()
	s := l.Stats()
	if s.Allowed != 10 || s.Allowed+s.Denied != 40 {
		t.Errorf("Stats = %+v, want exactly 10 of 40 allowed", s)
	}
}

func TestAllowInvalid(t *testing.T) {
	t.Parallel()
	rdb, commands := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	ok := Policy{Name: "horses.write", Rate: 1, Period: time.Minute, Scope: ScopeUser}

	tests := []struct {
		name            string
		p               Policy
		tenant, subject string
	}{
		{"policy fails Validate", Policy{Name: "bad name", Rate: 1, Period: time.Minute, Scope: ScopeUser}, tenantA, userA},
		{"user scope without tenant", ok, "", userA},
		{"user scope without user", ok, tenantA, ""},
		{"ip scope without IP", Policy{Name: "login", Rate: 1, Period: time.Minute, Scope: ScopeIP}, tenantA, ""},
		{"tenant scope without tenant", Policy{Name: "exports", Rate: 1, Period: time.Minute, Scope: ScopeTenant}, "", userA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := commands.n.Load()
			_, err := l.Allow(context.Background(), tt.p, tt.tenant, tt.subject)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if n := commands.n.Load() - before; n != 0 {
				t.Errorf("sent %d Redis commands for an invalid call", n)
			}
		})
	}
}

func TestAllowRedisUnreachable(t *testing.T) {
	t.Parallel()
	ordinary := Policy{Name: "horses.write", Rate: 3, Period: time.Minute, Scope: ScopeUser}
	sensitive := Policy{Name: "login", Rate: 5, Period: time.Minute, Scope: ScopeIP, Sensitive: true}

	t.Run("ordinary policy falls back and still limits", func(t *testing.T) {
		t.Parallel()
		rdb, _ := unreachableRedis(t)
		clock := newFakeClock()
		l := New(rdb, Overrides{}, WithClock(clock.Now), WithLogger(slog.New(slog.DiscardHandler)))

		for want := 2; want >= 0; want-- {
			d := mustAllow(t, l, ordinary, tenantA, userA)
			if !d.Allowed || d.Remaining != want || d.Source != SourceFallback {
				t.Fatalf("got %+v, want allowed by the fallback with %d remaining", d, want)
			}
		}
		d := mustAllow(t, l, ordinary, tenantA, userA)
		want := Decision{Policy: ordinary.effective(), RetryAfter: 20 * time.Second, ResetAfter: time.Minute, Source: SourceFallback}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("4th request (-want +got):\n%s", diff)
		}
		if d := mustAllow(t, l, ordinary, tenantB, userA); !d.Allowed {
			t.Errorf("other tenant denied by the fallback: %+v", d)
		}

		clock.Advance(20 * time.Second)
		if d := mustAllow(t, l, ordinary, tenantA, userA); !d.Allowed || d.Source != SourceFallback {
			t.Errorf("after RetryAfter: got %+v, want allowed by the fallback", d)
		}
		// The backoff (1s) had passed, so Redis was tried again: two errors in all.
		wantStats := Stats{Allowed: 5, Denied: 1, Fallback: 6, RedisErrors: 2}
		if diff := cmp.Diff(wantStats, l.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})

	t.Run("sensitive policy fails closed", func(t *testing.T) {
		t.Parallel()
		rdb, _ := unreachableRedis(t)
		l := New(rdb, Overrides{}, WithLogger(slog.New(slog.DiscardHandler)))

		d, err := l.Allow(context.Background(), sensitive, "", "203.0.113.9")
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want it to wrap the Redis cause (connection refused)", err)
		}
		if d.Allowed || d.RetryAfter < time.Second {
			t.Errorf("decision %+v, want refused with a RetryAfter of at least 1s", d)
		}
		wantStats := Stats{RedisErrors: 1, Unavailable: 1}
		if diff := cmp.Diff(wantStats, l.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})

	t.Run("backoff skips Redis after an error", func(t *testing.T) {
		t.Parallel()
		rdb, commands := unreachableRedis(t)
		clock := newFakeClock()
		l := New(rdb, Overrides{}, WithClock(clock.Now), WithRedisBackoff(time.Minute), WithLogger(slog.New(slog.DiscardHandler)))

		mustAllow(t, l, ordinary, tenantA, userA)
		sent := commands.n.Load()
		mustAllow(t, l, ordinary, tenantA, userB)
		if _, err := l.Allow(context.Background(), sensitive, "", "203.0.113.9"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("sensitive during backoff: err = %v, want ErrUnavailable", err)
		}
		if n := commands.n.Load() - sent; n != 0 {
			t.Errorf("sent %d Redis commands during the backoff, want 0", n)
		}
		clock.Advance(time.Minute)
		mustAllow(t, l, ordinary, tenantA, userA)
		if commands.n.Load() == sent {
			t.Error("Redis not tried again after the backoff")
		}
		wantStats := Stats{Allowed: 3, Fallback: 3, RedisErrors: 2, Unavailable: 1}
		if diff := cmp.Diff(wantStats, l.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})

	t.Run("logging is rate limited", func(t *testing.T) {
		t.Parallel()
		rdb, _ := unreachableRedis(t)
		clock := newFakeClock()
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		l := New(rdb, Overrides{}, WithClock(clock.Now), WithRedisBackoff(0), WithLogger(logger))
		p := Policy{Name: "horses.read", Rate: 1000, Period: time.Second, Scope: ScopeUser}

		for range 20 {
			mustAllow(t, l, p, tenantA, userA)
		}
		clock.Advance(logInterval)
		mustAllow(t, l, p, tenantA, userA)

		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d log lines for 21 failures, want 2:\n%s", len(lines), buf.String())
		}
		var second struct {
			Level      string `json:"level"`
			Policy     string `json:"policy"`
			Suppressed int    `json:"suppressed_since_last_line"`
		}
		if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
			t.Fatalf("log line %q: %v", lines[1], err)
		}
		if diff := cmp.Diff(struct {
			Level      string `json:"level"`
			Policy     string `json:"policy"`
			Suppressed int    `json:"suppressed_since_last_line"`
		}{"WARN", "horses.read", 19}, second); diff != "" {
			t.Errorf("second log line (-want +got):\n%s", diff)
		}
		if s := l.Stats(); s.RedisErrors != 21 || s.Fallback != 21 {
			t.Errorf("Stats = %+v, want 21 Redis errors and 21 fallback decisions", s)
		}
	})
}

func TestAllowCanceledRequestIsNotARedisFailure(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)), WithLogger(slog.New(slog.DiscardHandler)))
	p := Policy{Name: "horses.read", Rate: 100, Period: time.Minute, Scope: ScopeUser}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := l.Allow(ctx, p, tenantA, userA)
	if err != nil || d.Source != SourceFallback {
		t.Fatalf("canceled request: got %+v, %v; want a fallback decision", d, err)
	}
	if _, err := l.Allow(ctx, Policy{Name: "login", Rate: 1, Period: time.Minute, Scope: ScopeIP, Sensitive: true}, "", "203.0.113.4"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled sensitive request: err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	// No backoff was started: the next live request goes to Redis.
	if d := mustAllow(t, l, p, tenantA, userA); d.Source != SourceRedis {
		t.Errorf("next request: got %+v, want decided by redis", d)
	}
	if s := l.Stats(); s.RedisErrors != 0 {
		t.Errorf("Stats = %+v, want no Redis errors counted", s)
	}
}

// UserKeyPattern finds every key of one user's user-scoped policies and nothing else, so deleting what it
// matches gives that user (and only that user) a fresh budget.
func TestUserKeyPatternMatchesOnlyTheUsersKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, _ := testRedis(t)
	prefix := uniquePrefix(t, rdb)
	l := New(rdb, Overrides{}, WithKeyPrefix(prefix), WithLeaseMax(0))
	write := Policy{Name: "horses.write", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}
	read := Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}
	for _, c := range []struct {
		p               Policy
		tenant, subject string
	}{
		{write, tenantA, userA}, {read, tenantA, userA}, {write, tenantA, userB}, {write, tenantB, userA},
		{Policy{Name: "exports", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeTenant}, tenantA, userA},
		{Policy{Name: "login", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeIP}, "", "203.0.113.7"},
	} {
		mustAllow(t, l, c.p, c.tenant, c.subject)
	}

	keys, err := rdb.Keys(ctx, UserKeyPattern(prefix, tenantA, userA)).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"rate:" + prefix + "horses.read:u:" + tenantA + ":" + userA, "rate:" + prefix + "horses.write:u:" + tenantA + ":" + userA}
	if !slices.Equal(keys, want) {
		t.Fatalf("pattern matched %q, want %q", keys, want)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := New(rdb, Overrides{}, WithKeyPrefix(prefix), WithLeaseMax(0)) // a new process: no shield
	for _, c := range []struct {
		tenant, user string
		want         bool
	}{{tenantA, userA, true}, {tenantA, userB, false}, {tenantB, userA, false}} {
		d, err := fresh.Allow(ctx, write, c.tenant, c.user)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != c.want {
			t.Errorf("after the reset, %s in %s allowed %v, want %v", c.user, c.tenant, d.Allowed, c.want)
		}
	}

	// Glob characters in an ID are literal.
	if got, want := UserKeyPattern("p:", "t*", "u?[x]"), `rate:p:*:u:t\*:u\?\[x\]`; got != want {
		t.Errorf("UserKeyPattern escaped = %q, want %q", got, want)
	}
}
