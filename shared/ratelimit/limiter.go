package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/logging"
)

// Defaults for the Options.
const (
	DefaultKeyPrefix    = "corral:"
	DefaultShieldSize   = 10_000
	DefaultRedisBackoff = time.Second
	// logInterval is the least time between two "Redis unavailable" log lines of one Limiter.
	logInterval = 10 * time.Second
	// minFallbackSize is the least number of keys the fallback limiter tracks, whatever the shield size.
	minFallbackSize = 1024
)

// Limiter decides requests against Policies. Build one per cold start with New and share it: it is safe
// for concurrent use.
type Limiter struct {
	rdb       *redis.Client
	rl        *redis_rate.Limiter
	overrides Overrides
	prefix    string
	now       func() time.Time
	logger    *slog.Logger
	backoff   time.Duration
	leaseMax  int

	shield   *shield
	fallback *localGCRA
	leases   *leases

	// downUntil is the UnixNano time before which Redis is not asked again after an error (0: ask).
	downUntil atomic.Int64

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int

	allowed, denied, shieldHits, leaseHits, fallbacks, redisErrors, unavailable atomic.Uint64
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithKeyPrefix sets the prefix of every Redis key (after redis_rate's own "rate:"); DefaultKeyPrefix
// otherwise. Tests use a unique prefix each.
func WithKeyPrefix(prefix string) Option { return func(l *Limiter) { l.prefix = prefix } }

// WithClock sets the clock of the shield, the fallback limiter, the Redis backoff and the log throttle;
// time.Now otherwise. Redis itself always uses its own clock.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithLogger sets the logger for "Redis unavailable" lines; otherwise the request's logger from
// logging.FromContext is used.
func WithLogger(logger *slog.Logger) Option { return func(l *Limiter) { l.logger = logger } }

// WithShieldSize bounds how many denied keys the shield remembers (DefaultShieldSize otherwise; 0 turns the
// shield off). The fallback limiter tracks up to the same number of keys, but at least 1024.
func WithShieldSize(n int) Option { return func(l *Limiter) { l.shield = newShield(n) } }

// WithRedisBackoff sets how long after a Redis error the Limiter decides without asking Redis
// (DefaultRedisBackoff otherwise; 0 asks Redis every time). It keeps a dead Redis from adding a dial timeout
// to every request.
func WithRedisBackoff(d time.Duration) Option { return func(l *Limiter) { l.backoff = d } }

// New returns a Limiter over rdb applying the tenant overrides o.
//
// Build rdb for failure, because an Allow waits for Redis before it can fall back: a short DialTimeout and
// ReadTimeout (about 100–250ms), MaxRetries -1 or 1, and DialerRetries 1 (go-redis otherwise retries a
// failed dial 5 times, 100ms apart). After a failure the Limiter skips Redis for the backoff
// (WithRedisBackoff), so at most one request per backoff per instance pays that wait.
func New(rdb *redis.Client, o Overrides, opts ...Option) *Limiter {
	l := &Limiter{
		rdb:       rdb,
		rl:        redis_rate.NewLimiter(rdb),
		overrides: o,
		prefix:    DefaultKeyPrefix,
		now:       time.Now,
		backoff:   DefaultRedisBackoff,
		shield:    newShield(DefaultShieldSize),
		leaseMax:  DefaultLeaseMax,
	}
	for _, opt := range opts {
		opt(l)
	}
	l.fallback = newLocalGCRA(max(l.shield.max, minFallbackSize))
	l.leases = newLeases(max(l.shield.max, minFallbackSize))
	return l
}

// Allow decides one request for subject (the user id under ScopeUser, the client IP under ScopeIP, ignored
// under ScopeTenant) of tenantID under p, with the tenant's override applied.
//
// The error is nil for every decision, allowed or not, including fallback decisions made while Redis is
// unreachable. It is non-nil only:
//   - wrapping ErrUnavailable (and the Redis error) when Redis cannot be reached and p is Sensitive; the
//     Decision then has Allowed false and a RetryAfter for a 503's Retry-After;
//   - wrapping ErrInvalid when p fails Validate, or tenantID or subject is empty where p's scope needs it.
//
// A request whose context has ended is decided as if Redis were unreachable, but starts no backoff, counts
// no Redis error and logs nothing.
func (l *Limiter) Allow(ctx context.Context, p Policy, tenantID, subject string) (Decision, error) {
	if err := p.Validate(); err != nil {
		return Decision{Policy: p}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p = l.overrides.Apply(tenantID, p)
	key, err := l.key(p, tenantID, subject)
	if err != nil {
		return Decision{Policy: p}, err
	}

	now := l.now()
	if e, ok := l.shield.check(key, now); ok {
		l.shieldHits.Add(1)
		l.denied.Add(1)
		return Decision{
			Policy:     p,
			RetryAfter: e.until.Sub(now),
			ResetAfter: max(e.reset.Sub(now), 0),
			Source:     SourceShield,
		}, nil
	}

	leaseCap := l.leaseCap(p)
	n := 1
	if leaseCap > 1 {
		d, ok, next := l.leases.take(key, p, now, leaseCap)
		if ok {
			l.leaseHits.Add(1)
			l.allowed.Add(1)
			return d, nil
		}
		n = next
	}

	if until := l.downUntil.Load(); until != 0 && now.UnixNano() < until {
		l.logUnavailable(ctx, p, now, errRedisBackoff)
		return l.degraded(key, p, now, errRedisBackoff)
	}

	res, err := l.ask(ctx, key, p, n)
	if err != nil {
		// A request whose context ended says nothing about Redis: no backoff, no error count, no log line.
		if ctx.Err() == nil {
			l.redisErrors.Add(1)
			if l.backoff > 0 {
				l.downUntil.Store(now.Add(l.backoff).UnixNano())
			}
			l.logUnavailable(ctx, p, now, err)
		}
		return l.degraded(key, p, now, err)
	}
	if l.downUntil.Load() != 0 {
		l.downUntil.Store(0)
	}

	d := Decision{
		Policy:     p,
		Allowed:    res.granted > 0,
		Remaining:  max(res.remaining, 0),
		RetryAfter: max(res.retryAfter, 0),
		ResetAfter: max(res.resetAfter, 0),
		Source:     SourceRedis,
	}
	if leaseCap > 1 {
		if d.Allowed {
			l.leases.put(key, p, res.granted, d.Remaining, d.ResetAfter, now)
			d.Remaining += res.granted - 1
		} else {
			l.leases.shrink(key)
		}
	}
	l.count(d)
	if !d.Allowed && d.RetryAfter > 0 {
		l.shield.put(key, shieldEntry{until: now.Add(d.RetryAfter), reset: now.Add(d.ResetAfter)}, now)
	}
	return d, nil
}

// ask makes one Redis decision for key under p: redis_rate's single-request GCRA when n is 1, else a lease
// of up to n tokens.
func (l *Limiter) ask(ctx context.Context, key string, p Policy, n int) (leaseResult, error) {
	if n > 1 {
		return l.lease(ctx, key, p, n)
	}
	res, err := l.rl.Allow(ctx, key, redis_rate.Limit{Rate: p.Rate, Period: p.Period, Burst: p.Burst})
	if err != nil {
		return leaseResult{}, err
	}
	return leaseResult{granted: res.Allowed, remaining: res.Remaining, retryAfter: res.RetryAfter, resetAfter: res.ResetAfter}, nil
}

var (
	// errRedisBackoff is the cause reported while Redis is skipped after a recent error.
	errRedisBackoff = errors.New("redis skipped for a moment after an error")
	// errLeaseReply is the cause reported when the lease script answers in an unexpected shape.
	errLeaseReply = errors.New("ratelimit: unexpected reply from the lease script")
)

// degraded decides without Redis: ErrUnavailable for a Sensitive policy, the fallback limiter otherwise.
func (l *Limiter) degraded(key string, p Policy, now time.Time, cause error) (Decision, error) {
	if p.Sensitive {
		l.unavailable.Add(1)
		return Decision{
			Policy:     p,
			RetryAfter: max(l.backoff, time.Second),
			Source:     SourceFallback,
		}, fmt.Errorf("%w: policy %q: %w", ErrUnavailable, p.Name, cause)
	}
	l.fallbacks.Add(1)
	d := l.fallback.allow(key, p, now)
	l.count(d)
	return d, nil
}

func (l *Limiter) count(d Decision) {
	if d.Allowed {
		l.allowed.Add(1)
	} else {
		l.denied.Add(1)
	}
}

// logUnavailable logs at most one line per logInterval, saying how many it held back.
func (l *Limiter) logUnavailable(ctx context.Context, p Policy, now time.Time, cause error) {
	l.logMu.Lock()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < logInterval {
		l.suppressed++
		l.logMu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.lastLog, l.suppressed = now, 0
	l.logMu.Unlock()

	logger := l.logger
	if logger == nil {
		logger = logging.FromContext(ctx)
	}
	action := "failing open onto the in-process limiter"
	if p.Sensitive {
		action = "failing closed (sensitive policy)"
	}
	logger.WarnContext(ctx, "ratelimit: redis unavailable, "+action,
		slog.String("policy", p.Name),
		slog.Bool("sensitive", p.Sensitive),
		slog.String("error", cause.Error()),
		slog.Int("suppressed_since_last_line", suppressed),
		slog.Uint64("redis_errors_total", l.redisErrors.Load()),
	)
}

// key builds the Redis key for p: prefix, policy name, scope and the scope's identifiers.
func (l *Limiter) key(p Policy, tenantID, subject string) (string, error) {
	switch p.Scope {
	case ScopeUser:
		if tenantID == "" || subject == "" {
			return "", fmt.Errorf("%w: policy %q: user scope needs a tenant id and a user id", ErrInvalid, p.Name)
		}
		return l.prefix + p.Name + ":u:" + tenantID + ":" + subject, nil
	case ScopeIP:
		if subject == "" {
			return "", fmt.Errorf("%w: policy %q: ip scope needs the client IP", ErrInvalid, p.Name)
		}
		return l.prefix + p.Name + ":ip:" + ClientNetwork(subject, IPv6ClientPrefix), nil
	case ScopeTenant:
		if tenantID == "" {
			return "", fmt.Errorf("%w: policy %q: tenant scope needs a tenant id", ErrInvalid, p.Name)
		}
		return l.prefix + p.Name + ":t:" + tenantID, nil
	}
	return "", fmt.Errorf("%w: policy %q: unknown scope %d", ErrInvalid, p.Name, int(p.Scope))
}

// UserKeyPattern returns the Redis SCAN pattern that matches every key counting a user-scoped policy of
// userID in tenantID under the key prefix (DefaultKeyPrefix unless WithKeyPrefix set another): for tools
// that give a user a fresh budget in Redis, such as the cold-start rig between starts. The IDs are matched
// literally (glob characters in them are escaped).
func UserKeyPattern(prefix, tenantID, userID string) string {
	return globEscape(redisRatePrefix+prefix) + "*:u:" + globEscape(tenantID) + ":" + globEscape(userID)
}

// globEscape escapes the characters Redis's glob patterns give a meaning.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Stats are a Limiter's counters since New. Allowed and Denied count every decision, whatever its
// source; ShieldHits, LeaseHits and Fallback count the decisions the shield, leased tokens and the
// fallback limiter made; RedisErrors counts failed Redis calls; Unavailable counts ErrUnavailable
// answers.
type Stats struct {
	Allowed     uint64
	Denied      uint64
	ShieldHits  uint64
	LeaseHits   uint64
	Fallback    uint64
	RedisErrors uint64
	Unavailable uint64
}

// Stats returns the counters. Each is read atomically; the set is not one snapshot.
func (l *Limiter) Stats() Stats {
	return Stats{
		Allowed:     l.allowed.Load(),
		Denied:      l.denied.Load(),
		ShieldHits:  l.shieldHits.Load(),
		LeaseHits:   l.leaseHits.Load(),
		Fallback:    l.fallbacks.Load(),
		RedisErrors: l.redisErrors.Load(),
		Unavailable: l.unavailable.Load(),
	}
}

// KeyPrefix returns the prefix of the limiter's Redis keys, so that other counters of the same
// deployment (the brute-force guard) can share its namespace.
func (l *Limiter) KeyPrefix() string { return l.prefix }
