package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	const limit = 16
	now := newFakeClock().Now()
	c := newTokenCache(limit)
	p := wantPrincipal()

	for i := range limit / 2 {
		c.put(fmt.Sprintf("short-%d", i), p, now.Add(time.Minute), now)
		c.put(fmt.Sprintf("long-%d", i), p, now.Add(time.Hour), now)
	}
	if got := c.size(); got != limit {
		t.Fatalf("size = %d; want %d", got, limit)
	}

	// Full, two minutes later: the expired entries go first and every live one stays.
	later := now.Add(2 * time.Minute)
	c.put("new", p, later.Add(time.Hour), later)
	if got, want := c.size(), limit/2+1; got != want {
		t.Errorf("size after evicting expired entries = %d; want %d", got, want)
	}
	for i := range limit / 2 {
		if _, ok := c.get(fmt.Sprintf("long-%d", i), later); !ok {
			t.Errorf("live entry long-%d was evicted while expired ones were available", i)
		}
	}

	// Full of live entries: arbitrary ones go, the bound holds, the newest entry is present.
	for i := range 3 * limit {
		c.put(fmt.Sprintf("more-%d", i), p, later.Add(time.Hour), later)
		if got := c.size(); got > limit {
			t.Fatalf("size = %d after %d more puts; want at most %d", got, i+1, limit)
		}
		if _, ok := c.get(fmt.Sprintf("more-%d", i), later); !ok {
			t.Fatalf("entry more-%d missing right after put", i)
		}
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()
	exp := now.Add(time.Minute)
	c := newTokenCache(8)
	c.put("tok", wantPrincipal(), exp, now)
	c.put("already-expired", wantPrincipal(), now, now)

	tests := []struct {
		name  string
		token string
		at    time.Time
		want  bool
	}{
		{"before exp", "tok", exp.Add(-time.Nanosecond), true},
		{"at exp", "tok", exp, false},
		{"after exp", "tok", exp.Add(time.Second), false},
		{"never stored", "other", now, false},
		{"stored already expired", "already-expired", now.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.get(tt.token, tt.at)
			if ok != tt.want {
				t.Fatalf("get ok = %v; want %v", ok, tt.want)
			}
			if ok {
				if diff := cmp.Diff(wantPrincipal(), got); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestTokenCacheConcurrent(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()
	c := newTokenCache(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tok := fmt.Sprintf("g%d-%d", g, i%100)
				c.put(tok, wantPrincipal(), now.Add(time.Hour), now)
				c.get(tok, now)
			}
		}()
	}
	wg.Wait()
	if got := c.size(); got > 64 {
		t.Errorf("size = %d; want at most 64", got)
	}
}
