package auth

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// defaultCacheSize bounds the verified-token cache of a Verifier.
const defaultCacheSize = 10_000

// tokenCache remembers the principals of verified tokens until the tokens expire, so a repeated token costs a
// map lookup instead of a signature check. It holds at most limit entries; when full it drops expired entries
// first, then arbitrary ones. It is safe for concurrent use. A limit of 0 disables it.
type tokenCache struct {
	limit int

	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	p   Principal
	exp time.Time
}

func newTokenCache(limit int) *tokenCache {
	return &tokenCache{limit: limit, entries: make(map[string]cacheEntry)}
}

// get returns the principal cached for token if the token has not expired at now. The caller gets its own
// copy of the roles.
func (c *tokenCache) get(token string, now time.Time) (Principal, bool) {
	if c.limit == 0 {
		return Principal{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return Principal{}, false
	}
	p := e.p
	p.Roles = slices.Clone(p.Roles)
	return p, true
}

// put caches p for token until exp; it does nothing for a token already expired at now.
func (c *tokenCache) put(token string, p Principal, exp, now time.Time) {
	if c.limit == 0 || !now.Before(exp) {
		return
	}
	p.Roles = slices.Clone(p.Roles)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.limit {
		c.evictLocked(now)
	}
	// Clone: the token may be a slice of a larger request buffer the cache should not keep alive.
	c.entries[strings.Clone(token)] = cacheEntry{p: p, exp: exp}
}

// evictLocked drops every expired entry and, if that frees too little, arbitrary entries down to 7/8 of the limit
// so the next inserts do not each pay for a full sweep.
func (c *tokenCache) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.exp) {
			delete(c.entries, k)
		}
	}
	target := c.limit - c.limit/8
	if target >= c.limit {
		target = c.limit - 1
	}
	for k := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

func (c *tokenCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
