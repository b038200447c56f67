package ratelimit

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocalGCRA(t *testing.T) {
	t.Parallel()
	// 2 per second (500ms each), burst 2.
	p := Policy{Name: "p", Rate: 2, Period: time.Second, Burst: 2, Scope: ScopeUser}
	t0 := newFakeClock().Now()
	steps := []struct {
		at   time.Duration
		want Decision
	}{
		{0, Decision{Policy: p, Allowed: true, Remaining: 1, ResetAfter: 500 * time.Millisecond, Source: SourceFallback}},
		{0, Decision{Policy: p, Allowed: true, Remaining: 0, ResetAfter: time.Second, Source: SourceFallback}},
		{0, Decision{Policy: p, RetryAfter: 500 * time.Millisecond, ResetAfter: time.Second, Source: SourceFallback}},
		{400 * time.Millisecond, Decision{Policy: p, RetryAfter: 100 * time.Millisecond, ResetAfter: 600 * time.Millisecond, Source: SourceFallback}},
		{500 * time.Millisecond, Decision{Policy: p, Allowed: true, Remaining: 0, ResetAfter: time.Second, Source: SourceFallback}},
		{5 * time.Second, Decision{Policy: p, Allowed: true, Remaining: 1, ResetAfter: 500 * time.Millisecond, Source: SourceFallback}},
	}
	g := newLocalGCRA(16)
	for i, s := range steps {
		got := g.allow("k", p, t0.Add(s.at))
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d at +%s (-want +got):\n%s", i, s.at, diff)
		}
	}
}

func TestLocalGCRABounded(t *testing.T) {
	t.Parallel()
	p := Policy{Name: "p", Rate: 1, Period: time.Hour, Burst: 1, Scope: ScopeUser}
	now := newFakeClock().Now()
	g := newLocalGCRA(16)
	for i := range 1000 {
		g.allow(strconv.Itoa(i), p, now)
		if n := len(g.tat); n > 16 {
			t.Fatalf("after %d keys the fallback holds %d, want at most 16", i+1, n)
		}
	}
}

func TestShield(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()
	s := newShield(8)
	s.put("k", shieldEntry{until: now.Add(time.Second), reset: now.Add(time.Minute)}, now)

	tests := []struct {
		name   string
		key    string
		at     time.Duration
		wantOK bool
	}{
		{"unknown key", "other", 0, false},
		{"before until", "k", 999 * time.Millisecond, true},
		{"at until", "k", time.Second, false},
		{"forgotten once expired", "k", 0, false},
	}
	for _, tt := range tests {
		// Sequential: the expired check deletes the entry.
		_, ok := s.check(tt.key, now.Add(tt.at))
		if ok != tt.wantOK {
			t.Errorf("%s: check = %v, want %v", tt.name, ok, tt.wantOK)
		}
	}
	if n := s.len(); n != 0 {
		t.Errorf("shield holds %d entries after expiry, want 0", n)
	}
}

func TestShieldBounded(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()

	t.Run("full of live entries", func(t *testing.T) {
		t.Parallel()
		s := newShield(8)
		for i := range 1000 {
			s.put(strconv.Itoa(i), shieldEntry{until: now.Add(time.Hour)}, now)
			if n := s.len(); n > 8 {
				t.Fatalf("after %d keys the shield holds %d, want at most 8", i+1, n)
			}
		}
		if _, ok := s.check("999", now); !ok {
			t.Error("the newest entry was evicted")
		}
	})

	t.Run("expired entries are swept first", func(t *testing.T) {
		t.Parallel()
		s := newShield(8)
		for i := range 7 {
			s.put("old"+strconv.Itoa(i), shieldEntry{until: now.Add(time.Second)}, now)
		}
		s.put("live", shieldEntry{until: now.Add(time.Hour)}, now)
		later := now.Add(time.Minute)
		s.put("new", shieldEntry{until: later.Add(time.Hour)}, later)
		if n := s.len(); n != 2 {
			t.Errorf("shield holds %d entries, want 2 (live and new)", n)
		}
		for _, k := range []string{"live", "new"} {
			if _, ok := s.check(k, later); !ok {
				t.Errorf("%s evicted while expired entries were there", k)
			}
		}
	})

	t.Run("size zero disables it", func(t *testing.T) {
		t.Parallel()
		s := newShield(0)
		s.put("k", shieldEntry{until: now.Add(time.Hour)}, now)
		if _, ok := s.check("k", now); ok {
			t.Error("a disabled shield refused")
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		s := newShield(64)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 500 {
					k := strconv.Itoa(g*1000 + i%100)
					s.put(k, shieldEntry{until: now.Add(time.Duration(i) * time.Millisecond)}, now)
					s.check(k, now.Add(time.Duration(i%7)*time.Millisecond))
				}
			})
		}
		wg.Wait()
		if n := s.len(); n > 64 {
			t.Errorf("shield holds %d entries, want at most 64", n)
		}
	})
}
