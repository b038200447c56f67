package ratelimit

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkAllowRedis measures the allowed path with leases off: one Lua script round trip to the real
// Redis per request.
func BenchmarkAllowRedis(b *testing.B) {
	rdb, _ := testRedis(b)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(b, rdb)), WithLeaseMax(0))
	p := Policy{Name: "horses.read", Rate: 1_000_000, Period: time.Second, Scope: ScopeUser}
	ctx := context.Background()
	for b.Loop() {
		d, err := l.Allow(ctx, p, tenantA, userA)
		if err != nil || !d.Allowed || d.Source != SourceRedis {
			b.Fatalf("Allow = %+v, %v; want allowed by redis", d, err)
		}
	}
}

// BenchmarkAllowLease measures the allowed path of a busy key with the default leases: one Redis round
// trip per DefaultLeaseMax requests, the others decided in process.
func BenchmarkAllowLease(b *testing.B) {
	rdb, _ := testRedis(b)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(b, rdb)))
	p := Policy{Name: "horses.read", Rate: 1_000_000, Period: time.Second, Scope: ScopeUser}
	ctx := context.Background()
	for b.Loop() {
		d, err := l.Allow(ctx, p, tenantA, userA)
		if err != nil || !d.Allowed {
			b.Fatalf("Allow = %+v, %v; want allowed", d, err)
		}
	}
}

// BenchmarkAllowShield measures a refusal by the shield, with no Redis round trip.
func BenchmarkAllowShield(b *testing.B) {
	rdb, _ := testRedis(b)
	l := New(rdb, Overrides{}, WithKeyPrefix(uniquePrefix(b, rdb)))
	p := Policy{Name: "login", Rate: 1, Period: time.Hour, Scope: ScopeIP}
	ctx := context.Background()
	mustAllow(b, l, p, "", "203.0.113.1")
	mustAllow(b, l, p, "", "203.0.113.1") // denied by Redis: the shield now holds the key
	for b.Loop() {
		d, err := l.Allow(ctx, p, "", "203.0.113.1")
		if err != nil || d.Allowed || d.Source != SourceShield {
			b.Fatalf("Allow = %+v, %v; want refused by the shield", d, err)
		}
	}
}

// BenchmarkAllowFallback measures the in-process limiter while Redis is skipped after an error.
func BenchmarkAllowFallback(b *testing.B) {
	rdb, _ := unreachableRedis(b)
	quietRedis(b)
	l := New(rdb, Overrides{}, WithRedisBackoff(time.Hour), WithLogger(slog.New(slog.DiscardHandler)))
	p := Policy{Name: "horses.read", Rate: 1_000_000, Period: time.Second, Scope: ScopeUser}
	ctx := context.Background()
	for b.Loop() {
		d, err := l.Allow(ctx, p, tenantA, userA)
		if err != nil || d.Source != SourceFallback {
			b.Fatalf("Allow = %+v, %v; want decided by the fallback", d, err)
		}
	}
}
