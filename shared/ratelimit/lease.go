package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leasing: instead of one Redis round trip per request, a Limiter takes a small batch of a key's tokens from
// Redis in one atomic script call (GCRA, the same bucket and the same Redis key as a single decision) and
// spends them in process. Every request it admits was granted by Redis, so no instance ever spends a token
// the shared bucket did not give out; what leasing changes is *when* a token is spent, at most the lease's
// lifetime after Redis granted it. Hence:
//
//   - Slack (over-admission): over any interval of length T a key admits at most
//     Burst + Rate×T + Rate×life requests, all instances together, where life is the longest lease lifetime
//     of the policy: clamp(cap × Period/Rate, minLeaseLife, maxLeaseLife) and cap = min(LeaseMax, Burst/8).
//     For policies of up to cap/minLeaseLife requests per second (640/s with the defaults), that is at most
//     cap extra requests (32, and never more than an eighth of the burst); faster policies add at most
//     Rate × 50ms, and in any case no more than cap-1 per instance holding a lease.
//   - Stranding (under-admission): tokens an instance leased but does not spend are lost to other
//     instances until they refill (at most cap-1 per instance and key, and only for keys that instance
//     serves often, since lease sizes grow only while leases are used up: 1, 2, 4, ... up to cap).
//   - Headers: a decision from a lease reports Remaining as Redis's remaining count at the grant plus the
//     tokens still leased, and ResetAfter from the grant: exact when the instance is the key's only client,
//     otherwise off by what other instances spent since (documented as approximate in SetHeaders).
//
// Sensitive policies, and policies whose burst is under 16 (cap <= 1), never lease: every request is one
// exact Redis decision, as before.
const (
	// DefaultLeaseMax is the most tokens one lease takes (see WithLeaseMax).
	DefaultLeaseMax = 32
	// leaseBurstShare: a lease never takes more than Burst/leaseBurstShare tokens.
	leaseBurstShare = 8
	// minLeaseLife and maxLeaseLife bound how long leased tokens stay spendable.
	minLeaseLife = 50 * time.Millisecond
	maxLeaseLife = time.Second
)

// WithLeaseMax sets the most tokens one Redis call may lease for later requests of the same key
// (DefaultLeaseMax otherwise; 0 or 1 turns leasing off, so every request asks Redis).
func WithLeaseMax(n int) Option { return func(l *Limiter) { l.leaseMax = n } }

// leaseCap is the largest lease for the effective policy p; <= 1 means exact, per-request decisions.
func (l *Limiter) leaseCap(p Policy) int {
	if p.Sensitive {
		return 0
	}
	return min(l.leaseMax, p.Burst/leaseBurstShare)
}

// leaseLife is how long n tokens leased under p stay spendable: the time the bucket takes to refill them,
// within [minLeaseLife, maxLeaseLife].
func leaseLife(p Policy, n int) time.Duration {
	return min(max(p.emission()*time.Duration(n), minLeaseLife), maxLeaseLife)
}

// leases holds the tokens this process leased, per Redis key. It is bounded like the shield: expired
// entries are swept when it is full, then an arbitrary eighth (a dropped entry only loses its tokens).
type leases struct {
	mu  sync.Mutex
	max int
	m   map[string]*leaseEntry
}

type leaseEntry struct {
	left      int       // tokens still to spend
	until     time.Time // spendable before this moment
	size      int       // tokens granted by the last lease
	remaining int       // Redis's remaining count right after the last grant
	reset     time.Time // when Redis said the key would be back to its full burst
}

func newLeases(max int) *leases { return &leases{max: max, m: make(map[string]*leaseEntry)} }

// take spends one leased token of key at now if there is one, and otherwise returns how many tokens the
// next lease should ask for (at most limit): twice the last lease when it was used up in time, else half.
func (s *leases) take(key string, p Policy, now time.Time, limit int) (Decision, bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return Decision{}, false, 1
	}
	if e.left > 0 && now.Before(e.until) {
		e.left--
		return Decision{
			Policy:     p,
			Allowed:    true,
			Remaining:  e.remaining + e.left,
			ResetAfter: max(e.reset.Sub(now), 0),
			Source:     SourceLease,
		}, true, 0
	}
	next := e.size * 2
	if e.left > 0 { // the last lease expired with tokens left: the key is not that busy here
		next = e.size / 2
	}
	return Decision{}, false, min(max(next, 1), limit)
}

// put records a grant of n tokens (one of which the current request spends) at now.
func (s *leases) put(key string, p Policy, n, remaining int, resetAfter time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		if len(s.m) >= s.max {
			makeRoom(s.m, s.max, func(e *leaseEntry) bool { return e.left == 0 || !now.Before(e.until) })
		}
		e = &leaseEntry{}
		s.m[key] = e
	}
	until := now.Add(leaseLife(p, n))
	if e.left > 0 && now.Before(e.until) {
		// A concurrent request of this process leased too: keep both, under the earlier deadline, so no
		// token outlives its own lease.
		e.left += n - 1
		if e.until.Before(until) {
			until = e.until
		}
	} else {
		e.left = n - 1
	}
	e.until, e.size, e.remaining, e.reset = until, n, remaining, now.Add(resetAfter)
}

// shrink makes the next lease of key a single token: Redis just denied the key, so it is at its limit and
// a larger lease would only strand tokens here.
func (s *leases) shrink(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		e.size = 0
	}
}

// redisRatePrefix is the prefix redis_rate puts before every key; the lease script uses the same keys.
const redisRatePrefix = "rate:"

// leaseScript grants up to ARGV[4] whole tokens at once under GCRA, the algorithm and the stored
// theoretical arrival time (TAT) of redis_rate's scripts, so a key may be decided by either. It returns
// {granted, remaining after the grant, retry_after seconds (when nothing was granted), reset_after seconds}.
var leaseScript = redis.NewScript(`
redis.replicate_commands()
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local want = tonumber(ARGV[4])

local emission = period / rate
local burst_offset = emission * burst
local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)

local tat = redis.call("GET", key)
if not tat then
  tat = now
else
  tat = tonumber(tat)
end
tat = math.max(tat, now)

local available = math.floor((now - (tat - burst_offset)) / emission)
if available < 1 then
  return {0, 0, tostring(emission - (now - (tat - burst_offset))), tostring(tat - now)}
end
local granted = math.min(want, available)
local new_tat = tat + emission * granted
local reset_after = new_tat - now
redis.call("SET", key, new_tat, "EX", math.ceil(reset_after))
return {granted, available - granted, "-1", tostring(reset_after)}
`)

// leaseResult is the answer of leaseScript.
type leaseResult struct {
	granted, remaining     int
	retryAfter, resetAfter time.Duration
}

// lease asks Redis for up to n tokens of key under p.
func (l *Limiter) lease(ctx context.Context, key string, p Policy, n int) (leaseResult, error) {
	v, err := leaseScript.Run(ctx, l.rdb, []string{redisRatePrefix + key}, p.Burst, p.Rate, p.Period.Seconds(), n).Slice()
	if err != nil {
		return leaseResult{}, err
	}
	if len(v) != 4 {
		return leaseResult{}, errLeaseReply
	}
	granted, ok1 := v[0].(int64)
	remaining, ok2 := v[1].(int64)
	retry, ok3 := v[2].(string)
	reset, ok4 := v[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return leaseResult{}, errLeaseReply
	}
	r := leaseResult{granted: int(granted), remaining: int(remaining)}
	if r.retryAfter, err = seconds(retry); err != nil {
		return leaseResult{}, err
	}
	if r.resetAfter, err = seconds(reset); err != nil {
		return leaseResult{}, err
	}
	return r, nil
}

// seconds parses a decimal number of seconds; negative values become 0.
func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errLeaseReply
	}
	if f <= 0 {
		return 0, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}
