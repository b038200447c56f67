package bruteforce_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/bruteforce"
	"github.com/rocker-app/corral/shared/httpapi"
)

const (
	alice = "blind-index:alice@example.test"
	bob   = "blind-index:bob@example.test"
	ipA   = "198.51.100.7"
	ipB   = "203.0.113.9"
)

func TestAccountLocksAfterThreshold(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})

	for i := 1; i < bruteforce.DefaultAccountThreshold; i++ {
		if d := f.fail(t, alice, ipA); !d.Allowed {
			t.Fatalf("failure %d: %+v, want allowed", i, d)
		}
		if d := f.check(t, alice, ipA); !d.Allowed {
			t.Fatalf("check after failure %d: %+v, want allowed", i, d)
		}
	}
	want := locked(bruteforce.ReasonAccountLocked, bruteforce.DefaultAccountLock)
	if diff := cmp.Diff(want, f.fail(t, alice, ipA)); diff != "" {
		t.Errorf("failure %d (-want +got):\n%s", bruteforce.DefaultAccountThreshold, diff)
	}
	// The lock holds for every IP, and only for this account.
	if diff := cmp.Diff(want, f.check(t, alice, ipB)); diff != "" {
		t.Errorf("check from another IP (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allowed, f.check(t, bob, ipA)); diff != "" {
		t.Errorf("check of another account (-want +got):\n%s", diff)
	}
	// A failure during the lock changes nothing.
	f.clock.Advance(30 * time.Second)
	if diff := cmp.Diff(locked(bruteforce.ReasonAccountLocked, 30*time.Second), f.fail(t, alice, ipA)); diff != "" {
		t.Errorf("failure during the lock (-want +got):\n%s", diff)
	}
	f.clock.Advance(30 * time.Second)
	if diff := cmp.Diff(allowed, f.check(t, alice, ipA)); diff != "" {
		t.Errorf("check after the lock (-want +got):\n%s", diff)
	}

	events := f.audit.recorded()
	if len(events) != 1 {
		t.Fatalf("audit events = %v, want one lockout", f.audit.kinds())
	}
	e := events[0]
	if e.Kind != bruteforce.KindAccountLocked || e.IP != ipA || e.TenantID != "" {
		t.Errorf("event = %+v, want %s from %s without a tenant", e, bruteforce.KindAccountLocked, ipA)
	}
	if e.Detail["level"] != int64(1) || e.Detail["lock_seconds"] != 60.0 {
		t.Errorf("detail = %v, want level 1 for 60 seconds", e.Detail)
	}
	if acct, _ := e.Detail["account"].(string); acct == "" || strings.Contains(acct, "alice") {
		t.Errorf("detail account = %q, want a hash", acct)
	}
}

func TestAccountLockDoublesWhileFailuresContinue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})

	f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA)
	var got []time.Duration
	for range 9 {
		d := f.fail(t, alice, ipA)
		if d.Allowed || d.Reason != bruteforce.ReasonAccountLocked {
			t.Fatalf("failure after a lock: %+v, want the account locked", d)
		}
		got = append(got, d.RetryAfter)
		f.clock.Advance(d.RetryAfter)
	}
	m := time.Minute
	want := []time.Duration{1 * m, 2 * m, 4 * m, 8 * m, 16 * m, 32 * m, 60 * m, 60 * m, 60 * m}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lock lengths (-want +got):\n%s", diff)
	}
	var levels []any
	for _, e := range f.audit.recorded() {
		levels = append(levels, e.Detail["level"])
	}
	if diff := cmp.Diff([]any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)}, levels); diff != "" {
		t.Errorf("audited lock levels (-want +got):\n%s", diff)
	}

	// A quiet window past the last lock starts afresh: the threshold again, then the first lock length.
	f.clock.Advance(bruteforce.DefaultAccountWindow)
	if d := f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA); !d.Allowed {
		t.Fatalf("failures after a quiet window: %+v, want allowed", d)
	}
	if diff := cmp.Diff(locked(bruteforce.ReasonAccountLocked, time.Minute), f.fail(t, alice, ipA)); diff != "" {
		t.Errorf("lock after a quiet window (-want +got):\n%s", diff)
	}
}

func TestFailuresOutsideTheWindowAreForgotten(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA)
	f.clock.Advance(bruteforce.DefaultAccountWindow)
	if d := f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA); !d.Allowed {
		t.Errorf("failures in a new window: %+v, want allowed", d)
	}
	if d := f.fail(t, alice, ipA); d.Allowed {
		t.Errorf("threshold reached in the new window: %+v, want locked", d)
	}
}

func TestSuccessResetsTheAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	ctx := context.Background()

	f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA)
	if err := f.g.Success(ctx, alice, ipA); err != nil {
		t.Fatalf("Success: %v", err)
	}
	if d := f.failN(t, bruteforce.DefaultAccountThreshold-1, alice, ipA); !d.Allowed {
		t.Fatalf("failures after a success: %+v, want allowed", d)
	}

	// A lock in force survives a success; its escalation does not.
	if d := f.fail(t, alice, ipA); d.Allowed {
		t.Fatalf("threshold reached: %+v, want locked", d)
	}
	if err := f.g.Success(ctx, alice, ipA); err != nil {
		t.Fatalf("Success: %v", err)
	}
	if diff := cmp.Diff(locked(bruteforce.ReasonAccountLocked, time.Minute), f.check(t, alice, ipA)); diff != "" {
		t.Errorf("check after a success during the lock (-want +got):\n%s", diff)
	}
	f.clock.Advance(time.Minute)
	if diff := cmp.Diff(allowed, f.fail(t, alice, ipA)); diff != "" {
		t.Errorf("first failure after the lock, escalation reset (-want +got):\n%s", diff)
	}

	// Without a lock, a success forgets everything.
	if err := f.g.Success(ctx, alice, ipA); err != nil {
		t.Fatalf("Success: %v", err)
	}
	if keys := keysUnder(t, f.rdb, f.prefix+"acct:"); len(keys) != 0 {
		t.Errorf("account keys after a success = %v, want none", keys)
	}
}

func TestIPLocksAcrossAccounts(t *testing.T) {
	t.Parallel()
	// The IP's own threshold, kept apart from the account and spread rules.
	f := newFixture(t, bruteforce.Options{
		Account: bruteforce.Limit{Threshold: 100},
		IP:      bruteforce.Limit{Threshold: 3, Lock: 2 * time.Minute, MaxLock: 10 * time.Minute},
		Spread:  bruteforce.Spread{Accounts: 100},
	})
	f.fail(t, "acct-1", ipA)
	f.fail(t, "acct-2", ipA)
	want := locked(bruteforce.ReasonIPLocked, 2*time.Minute)
	if diff := cmp.Diff(want, f.fail(t, "acct-3", ipA)); diff != "" {
		t.Errorf("third failure from the IP (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, f.check(t, "acct-4", ipA)); diff != "" {
		t.Errorf("check of a fresh account from the IP (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allowed, f.check(t, "acct-1", ipB)); diff != "" {
		t.Errorf("check from another IP (-want +got):\n%s", diff)
	}
	// The IP lock escalates like the account's.
	f.clock.Advance(2 * time.Minute)
	if diff := cmp.Diff(locked(bruteforce.ReasonIPLocked, 4*time.Minute), f.fail(t, "acct-5", ipA)); diff != "" {
		t.Errorf("failure right after the IP lock (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{bruteforce.KindIPLocked, bruteforce.KindIPLocked}, f.audit.kinds()); diff != "" {
		t.Errorf("audit kinds (-want +got):\n%s", diff)
	}
}

func TestIPLockWithDefaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	// One account hammered from one IP: the account locks at 5, the IP still counts every failure.
	d := f.failN(t, bruteforce.DefaultIPThreshold, alice, ipA)
	if diff := cmp.Diff(locked(bruteforce.ReasonIPLocked, bruteforce.DefaultIPLock), d); diff != "" {
		t.Errorf("failure %d from one IP (-want +got):\n%s", bruteforce.DefaultIPThreshold, diff)
	}
	if diff := cmp.Diff([]string{bruteforce.KindAccountLocked, bruteforce.KindIPLocked}, f.audit.kinds()); diff != "" {
		t.Errorf("audit kinds (-want +got):\n%s", diff)
	}
}

func TestIPFailingAcrossManyAccountsIsBlocked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	for i := 1; i < bruteforce.DefaultSpreadAccounts; i++ {
		if d := f.fail(t, fmt.Sprintf("acct-%d", i), ipA); !d.Allowed {
			t.Fatalf("failure on account %d: %+v, want allowed", i, d)
		}
	}
	// A repeat on a known account does not count as another account.
	if d := f.fail(t, "acct-1", ipA); !d.Allowed {
		t.Fatalf("repeat failure: %+v, want allowed", d)
	}
	want := locked(bruteforce.ReasonIPBlocked, bruteforce.DefaultSpreadBlock)
	if diff := cmp.Diff(want, f.fail(t, "acct-last", ipA)); diff != "" {
		t.Errorf("failure on account %d (-want +got):\n%s", bruteforce.DefaultSpreadAccounts, diff)
	}
	if diff := cmp.Diff(want, f.check(t, "acct-fresh", ipA)); diff != "" {
		t.Errorf("check of a fresh account from the blocked IP (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allowed, f.check(t, "acct-fresh", ipB)); diff != "" {
		t.Errorf("check from another IP (-want +got):\n%s", diff)
	}
	events := f.audit.recorded()
	if len(events) != 1 || events[0].Kind != bruteforce.KindIPBlocked || events[0].IP != ipA {
		t.Fatalf("audit events = %+v, want one %s from %s", events, bruteforce.KindIPBlocked, ipA)
	}
	if got := events[0].Detail["accounts"]; got != int64(bruteforce.DefaultSpreadAccounts) {
		t.Errorf("detail accounts = %v, want %d", got, bruteforce.DefaultSpreadAccounts)
	}
	f.clock.Advance(bruteforce.DefaultSpreadBlock)
	if diff := cmp.Diff(allowed, f.check(t, "acct-fresh", ipA)); diff != "" {
		t.Errorf("check after the block (-want +got):\n%s", diff)
	}
}

func TestSpreadForgetsAccountsOutsideTheWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	for i := 1; i < bruteforce.DefaultSpreadAccounts; i++ {
		f.fail(t, fmt.Sprintf("acct-%d", i), ipA)
	}
	f.clock.Advance(bruteforce.DefaultSpreadWindow)
	if d := f.fail(t, "acct-late", ipA); !d.Allowed {
		t.Errorf("failure after the spread window: %+v, want allowed", d)
	}
}

func TestIPv6CountsPerNetwork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{Spread: bruteforce.Spread{Accounts: 3}})
	f.fail(t, "acct-1", "2001:db8:1:2::1")
	f.fail(t, "acct-2", "2001:db8:1:2:ffff::9")
	if d := f.fail(t, "acct-3", "2001:db8:1:2:abcd:1:2:3"); d.Reason != bruteforce.ReasonIPBlocked {
		t.Errorf("third account from one /64: %+v, want the network blocked", d)
	}
	if d := f.check(t, "acct-4", "2001:db8:1:2::42"); d.Reason != bruteforce.ReasonIPBlocked {
		t.Errorf("check from the same /64: %+v, want blocked", d)
	}
	if diff := cmp.Diff(allowed, f.check(t, "acct-4", "2001:db8:1:3::1")); diff != "" {
		t.Errorf("check from the next /64 (-want +got):\n%s", diff)
	}
}

func TestKeysHoldNoClearAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	f.failN(t, bruteforce.DefaultAccountThreshold, alice, ipA)
	keys := keysUnder(t, f.rdb, f.prefix)
	if len(keys) != 3 {
		t.Errorf("keys = %v, want the account's, the IP's and the IP's spread set", keys)
	}
	ctx := context.Background()
	for _, k := range keys {
		if strings.Contains(k, "alice") {
			t.Errorf("key %q holds the account key in clear", k)
		}
		members, _ := f.rdb.ZRange(ctx, k, 0, -1).Result()
		for _, m := range members {
			if strings.Contains(m, "alice") {
				t.Errorf("set %q holds the account key in clear", k)
			}
		}
		if ttl := f.rdb.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q has no expiry (PTTL %s)", k, ttl)
		}
	}
}

func TestOneRoundTripPerCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{})
	ctx := context.Background()
	// Warm up: the first run of each script may load it (EVALSHA, then EVAL).
	f.check(t, alice, ipA)
	f.fail(t, alice, ipA)
	if err := f.g.Success(ctx, alice, ipA); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Check", func() error { _, err := f.g.Check(ctx, alice, ipA); return err }},
		{"Failure", func() error { _, err := f.g.Failure(ctx, alice, ipA); return err }},
		{"Success", func() error { return f.g.Success(ctx, alice, ipA) }},
	}
	for _, c := range calls {
		before := f.cmds.n.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := f.cmds.n.Load() - before; n != 1 {
			t.Errorf("%s sent %d commands, want 1", c.name, n)
		}
	}
}

func TestRedisClockByDefault(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	log := &auditLog{}
	g, err := bruteforce.New(rdb, bruteforce.Options{KeyPrefix: uniquePrefix(t, rdb)}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var d bruteforce.Decision
	for range bruteforce.DefaultAccountThreshold {
		if d, err = g.Failure(ctx, alice, ipA); err != nil {
			t.Fatal(err)
		}
	}
	if d.Allowed || d.Reason != bruteforce.ReasonAccountLocked || d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
		t.Errorf("after %d failures: %+v, want the account locked for up to a minute", bruteforce.DefaultAccountThreshold, d)
	}
	if d, err = g.Check(ctx, alice, ipA); err != nil || d.Reason != bruteforce.ReasonAccountLocked {
		t.Errorf("Check = %+v, %v; want the account locked", d, err)
	}
}

func TestFailsClosedWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		dead    bool
	}{{"unreachable", 0, true}, {"silent", 50 * time.Millisecond, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := silentRedis(t)
			if tc.dead {
				rdb = unreachableRedis(t)
			}
			log := &auditLog{}
			g, err := bruteforce.New(rdb, bruteforce.Options{Timeout: tc.timeout}, log)
			if err != nil {
				t.Fatal(err)
			}
			ctx := httpapi.WithRequestID(context.Background(), "req-1")
			refused := bruteforce.Decision{RetryAfter: bruteforce.UnavailableRetry}
			d, err := g.Check(ctx, alice, ipA)
			if !errors.Is(err, bruteforce.ErrUnavailable) {
				t.Errorf("Check error = %v, want ErrUnavailable", err)
			}
			if diff := cmp.Diff(refused, d); diff != "" {
				t.Errorf("Check decision (-want +got):\n%s", diff)
			}
			d, err = g.Failure(ctx, alice, ipA)
			if !errors.Is(err, bruteforce.ErrUnavailable) {
				t.Errorf("Failure error = %v, want ErrUnavailable", err)
			}
			if diff := cmp.Diff(refused, d); diff != "" {
				t.Errorf("Failure decision (-want +got):\n%s", diff)
			}
			if err := g.Success(ctx, alice, ipA); !errors.Is(err, bruteforce.ErrUnavailable) {
				t.Errorf("Success error = %v, want ErrUnavailable", err)
			}
			if n := len(log.recorded()); n != 0 {
				t.Errorf("audit events = %d, want none", n)
			}
		})
	}
}

func TestAuditEventsCarryTheRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, bruteforce.Options{Account: bruteforce.Limit{Threshold: 1}})
	ctx := httpapi.WithRequestID(context.Background(), "req-42")
	if _, err := f.g.Failure(ctx, alice, ipA); err != nil {
		t.Fatal(err)
	}
	events := f.audit.recorded()
	if len(events) != 1 {
		t.Fatalf("audit events = %v, want one", f.audit.kinds())
	}
	e := events[0]
	e.Detail = nil
	if diff := cmp.Diff(audit.Event{Kind: bruteforce.KindAccountLocked, IP: ipA, RequestID: "req-42"}, e); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestInvalidUse(t *testing.T) {
	t.Parallel()
	rdb, _ := testRedis(t)
	for _, tc := range []struct {
		name string
		o    bruteforce.Options
	}{
		{"negative threshold", bruteforce.Options{Account: bruteforce.Limit{Threshold: -1}}},
		{"negative window", bruteforce.Options{IP: bruteforce.Limit{Window: -time.Second}}},
		{"max lock under lock", bruteforce.Options{IP: bruteforce.Limit{Lock: time.Hour, MaxLock: time.Minute}}},
		{"negative spread", bruteforce.Options{Spread: bruteforce.Spread{Block: -time.Second}}},
		{"negative timeout", bruteforce.Options{Timeout: -time.Second}},
		{"IPv6 prefix too long", bruteforce.Options{IPv6Prefix: 129}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := bruteforce.New(rdb, tc.o, nil); !errors.Is(err, bruteforce.ErrInvalid) {
				t.Errorf("New error = %v, want ErrInvalid", err)
			}
		})
	}
	g, err := bruteforce.New(rdb, bruteforce.Options{KeyPrefix: uniquePrefix(t, rdb)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := g.Check(ctx, "", ipA); !errors.Is(err, bruteforce.ErrInvalid) {
		t.Errorf("Check with no account: %v, want ErrInvalid", err)
	}
	if _, err := g.Failure(ctx, "", ipA); !errors.Is(err, bruteforce.ErrInvalid) {
		t.Errorf("Failure with no account: %v, want ErrInvalid", err)
	}
	if err := g.Success(ctx, "", ipA); !errors.Is(err, bruteforce.ErrInvalid) {
		t.Errorf("Success with no account: %v, want ErrInvalid", err)
	}
	// A larger lock than the default max lock raises the max lock with it.
	if _, err := bruteforce.New(rdb, bruteforce.Options{Account: bruteforce.Limit{Lock: 2 * time.Hour}}, nil); err != nil {
		t.Errorf("New with a 2h lock and the default max lock: %v", err)
	}
}
