package ratelimit

import (
	"sync"
	"time"
)

// shield remembers keys Redis denied, until the time Redis said they would be allowed again. It holds at
// most max entries: expired ones are swept when it is full, and if that frees nothing an arbitrary eighth
// is dropped (a dropped key only costs a Redis round trip).
type shield struct {
	mu  sync.Mutex
	max int
	m   map[string]shieldEntry
}

type shieldEntry struct {
	until time.Time // first moment the key may be allowed again
	reset time.Time // moment the key is back to its full burst
}

func newShield(max int) *shield {
	return &shield{max: max, m: make(map[string]shieldEntry)}
}

// check returns the entry for key if it still refuses at now, and forgets an expired one.
func (s *shield) check(key string, now time.Time) (shieldEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return shieldEntry{}, false
	}
	if !now.Before(e.until) {
		delete(s.m, key)
		return shieldEntry{}, false
	}
	return e, true
}

// put remembers that key is refused until e.until.
func (s *shield) put(key string, e shieldEntry, now time.Time) {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= s.max {
		makeRoom(s.m, s.max, func(e shieldEntry) bool { return !now.Before(e.until) })
	}
	s.m[key] = e
}

func (s *shield) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// localGCRA is the in-process fallback limiter: the same GCRA as the Redis script, one theoretical arrival
// time (TAT) per key. A key whose TAT has passed is back at full burst, so its entry can be dropped; when
// the map is full and nothing has expired, an arbitrary eighth is dropped, which resets those keys (the
// fallback already fails open, so this only loosens it further under a flood of distinct keys).
type localGCRA struct {
	mu  sync.Mutex
	max int
	tat map[string]time.Time
}

func newLocalGCRA(max int) *localGCRA {
	return &localGCRA{max: max, tat: make(map[string]time.Time)}
}

// allow decides one request for key under the effective policy p at now.
func (g *localGCRA) allow(key string, p Policy, now time.Time) Decision {
	emission := p.emission()
	burstOffset := emission * time.Duration(p.Burst)

	g.mu.Lock()
	defer g.mu.Unlock()
	tat, ok := g.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(emission)
	diff := now.Sub(newTAT.Add(-burstOffset))
	if diff < 0 {
		return Decision{
			Policy:     p,
			RetryAfter: -diff,
			ResetAfter: tat.Sub(now),
			Source:     SourceFallback,
		}
	}
	if !ok && len(g.tat) >= g.max {
		makeRoom(g.tat, g.max, func(t time.Time) bool { return !t.After(now) })
	}
	g.tat[key] = newTAT
	return Decision{
		Policy:     p,
		Allowed:    true,
		Remaining:  int(diff / emission),
		ResetAfter: newTAT.Sub(now),
		Source:     SourceFallback,
	}
}

// makeRoom deletes the expired entries of a full map and, if that left it full, an arbitrary eighth of it
// (Go's map iteration order is unspecified), so that the next inserts are cheap.
func makeRoom[V any](m map[string]V, max int, expired func(V) bool) {
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	if len(m) < max {
		return
	}
	drop := max/8 + 1
	for k := range m {
		if drop == 0 {
			break
		}
		delete(m, k)
		drop--
	}
}
