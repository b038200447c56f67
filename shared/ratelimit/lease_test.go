package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Two instances sharing Redis never admit more than the bucket holds: Rate is so low that nothing refills
// during the test, so the slack bound (Rate × lease lifetime) is below one request and the limit is exact.
func TestLeaseTwoInstancesNeverOverAdmit(t *testing.T) {
	t.Parallel()
	rdb, commands := testRedis(t)
	prefix := uniquePrefix(t, rdb)
	a := New(rdb, Overrides{}, WithKeyPrefix(prefix))
	b := New(rdb, Overrides{}, WithKeyPrefix(prefix))
	loadScripts(t, a)
	start := commands.n.Load()
	const burst = 200
	p := Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Burst: burst, Scope: ScopeUser}
	capacity := min(DefaultLeaseMax, burst/leaseBurstShare)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		leased  int
	)
	for _, l := range []*Limiter{a, b, a, b} { // two goroutines per instance
		wg.Go(func() {
			for range 300 {
				d, err := l.Allow(context.Background(), p, tenantA, userA)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				mu.Lock()
				if d.Allowed {
					allowed++
				}
				if d.Source == SourceLease {
					leased++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if allowed > burst {
		t.Errorf("%d of 1200 requests allowed across two instances, want at most the burst of %d", allowed, burst)
	}
	// Tokens an instance leased and had not spent when its lease ran out are lost: at most one lease per
	// instance (leases last at least 50ms; a slow, loaded machine may let some run out).
	if minimum := burst - 2*(capacity-1); allowed < minimum {
		t.Errorf("%d allowed, want at least %d (burst less one stranded lease per instance)", allowed, minimum)
	}
	if leased == 0 {
		t.Error("no decision came from a lease")
	}
	// 1200 decisions: without leases at least 200 Redis calls (one per admitted request).
	if n := commands.n.Load() - start; n >= burst/2 {
		t.Errorf("%d Redis commands for %d admitted requests, want far fewer with leases", n, allowed)
	}
	sa, sb := a.Stats(), b.Stats()
	if got := sa.Allowed + sb.Allowed; got != uint64(allowed) {
		t.Errorf("Stats count %d allowed, the decisions %d", got, allowed)
	}
}

func TestLeaseSizesGrowAndStayExactWhereTheyMust(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		p         Policy
		wantCalls int64 // Redis commands for 64 allowed requests of one key
	}{
		// Leases of 1, 2, 4, 8, 16 and 32 tokens serve 63 requests; the 64th takes a seventh lease.
		{"large burst leases up to 32", Policy{Name: "big", Rate: 1, Period: time.Hour, Burst: 1000, Scope: ScopeUser}, 7},
		// Burst 64: leases of at most 64/8 = 8 tokens: 1+2+4+8 = 15, then 49 more in leases of 8 (7 calls).
		{"lease at most an eighth of the burst", Policy{Name: "mid", Rate: 1, Period: time.Hour, Burst: 64, Scope: ScopeUser}, 11},
		{"sensitive policy asks Redis every time", Policy{Name: "login", Rate: 1, Period: time.Hour, Burst: 1000, Scope: ScopeIP, Sensitive: true}, 64},
		{"burst under 16 asks Redis every time", Policy{Name: "small", Rate: 1, Period: time.Hour, Burst: 15, Scope: ScopeUser}, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb, commands := testRedis(t)
			clock := newFakeClock() // frozen: no lease runs out
			l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)), WithClock(clock.Now))
			loadScripts(t, l)
			before := commands.n.Load()
			n := min(64, tt.p.Burst)
			for i := range n {
				if d := mustAllow(t, l, tt.p, tenantA, userA); !d.Allowed {
					t.Fatalf("request %d denied: %+v", i+1, d)
				}
			}
			if got := commands.n.Load() - before; got != tt.wantCalls {
				t.Errorf("%d Redis commands for %d requests, want %d", got, n, tt.wantCalls)
			}
		})
	}
}

func TestLeaseRunsOutAfterItsLifetime(t *testing.T) {
	t.Parallel()
	rdb, commands := testRedis(t)
	clock := newFakeClock()
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)), WithClock(clock.Now))
	// Emission 1ms: a lease of n tokens lives n ms, at least minLeaseLife.
	p := Policy{Name: "fast", Rate: 1000, Period: time.Second, Burst: 1000, Scope: ScopeUser}
	for range 3 { // leases of 1 and 2: the second lease has one token left
		mustAllow(t, l, p, tenantA, userA)
	}
	if d := mustAllow(t, l, p, tenantA, userA); d.Source != SourceRedis {
		t.Fatalf("4th request: %+v, want a new lease from redis", d)
	}
	// The third lease (4 tokens) has 3 left; past its lifetime they are not spent.
	before := commands.n.Load()
	clock.Advance(minLeaseLife)
	d := mustAllow(t, l, p, tenantA, userA)
	if d.Source != SourceRedis || commands.n.Load() == before {
		t.Errorf("after the lease's lifetime: %+v, want a decision from redis", d)
	}
}

func TestLeaseDecisionsReportTheBucket(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	clock := newFakeClock()
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)), WithClock(clock.Now))
	p := Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Burst: 100, Scope: ScopeUser}

	type view struct {
		Allowed   bool
		Remaining int
		Source    Source
	}
	var got []view
	for range 5 {
		d := mustAllow(t, l, p, tenantA, userA)
		got = append(got, view{d.Allowed, d.Remaining, d.Source})
		if d.ResetAfter <= 0 {
			t.Errorf("%+v: want a positive ResetAfter", d)
		}
	}
	// Leases of 1, 2 and 4 tokens: Remaining counts the bucket plus the tokens this instance still holds.
	want := []view{{true, 99, SourceRedis}, {true, 98, SourceRedis}, {true, 97, SourceLease}, {true, 96, SourceRedis}, {true, 95, SourceLease}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if s := l.Stats(); s.LeaseHits != 2 || s.Allowed != 5 {
		t.Errorf("Stats = %+v, want 2 lease hits of 5 allowed", s)
	}
}

func TestLeaseDeniedKeyGoesToTheShield(t *testing.T) {
	t.Parallel()
	rdb, commands := testRedis(t)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(t, rdb)))
	loadScripts(t, l)
	p := Policy{Name: "horses.read", Rate: 1, Period: time.Hour, Burst: 16, Scope: ScopeUser}
	allowed := 0
	for range 40 {
		if d := mustAllow(t, l, p, tenantA, userA); d.Allowed {
			allowed++
		}
	}
	if allowed != 16 {
		t.Errorf("%d allowed, want the burst of 16", allowed)
	}
	before := commands.n.Load()
	d := mustAllow(t, l, p, tenantA, userA)
	if d.Allowed || d.Source != SourceShield || commands.n.Load() != before {
		t.Errorf("after the burst: %+v, want refused by the shield without Redis", d)
	}
}

// loadScripts makes sure Redis has both Lua scripts cached, so that every later decision is one command
// (go-redis sends EVALSHA, and EVAL after it only when Redis has not seen the script yet).
func loadScripts(tb testing.TB, l *Limiter) {
	tb.Helper()
	if err := leaseScript.Load(context.Background(), l.rdb).Err(); err != nil {
		tb.Fatalf("load the lease script: %v", err)
	}
	// redis_rate's script is loaded by its first use, here through a limiter of its own (so l's Stats
	// stay untouched) on l's key prefix.
	mustAllow(tb, New(l.rdb, Overrides{}, WithKeyPrefix(l.prefix)), Policy{Name: "warm", Rate: 1, Period: time.Hour, Scope: ScopeIP, Sensitive: true}, "", "192.0.2.1")
}
