// Package ratelimit limits how often a user, a tenant or an anonymous client IP may call a route.
//
// Limits are kept in Redis with GCRA (the generic cell rate algorithm, one Lua script per decision, through
// github.com/go-redis/redis_rate/v10), so every Lambda instance shares them. Three in-process layers sit in
// front of Redis:
//
//   - leases: for a key this instance serves often, one Redis call takes a small batch of the key's tokens
//     (1, 2, 4, ... up to min(32, Burst/8)) and later requests spend them without a round trip. Every
//     admitted request was still granted by the shared bucket; a token is only spent a little later than
//     Redis granted it, which bounds the over-admission (about one lease, all instances together; see
//     DefaultLeaseMax for the exact bound). Sensitive policies and bursts under 16 never lease;
//   - a shield: once Redis has denied a key, later requests for that key are refused locally, without a
//     Redis round trip, until the moment Redis said the key would be allowed again;
//   - a fallback: when Redis cannot be reached, policies that are not Sensitive fail open onto an in-process
//     GCRA limiter with the same policy (per instance, so the effective limit is looser), while Sensitive
//     policies fail closed with ErrUnavailable.
//
// SetHeaders writes the RateLimit-Policy and RateLimit fields of draft-ietf-httpapi-ratelimit-headers
// (the structured-field form, draft 07 and later) and Retry-After.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Scope says what a policy counts requests against.
type Scope int

const (
	// ScopeUser counts per policy, tenant and user: Allow's subject is the user id.
	ScopeUser Scope = iota + 1
	// ScopeIP counts per policy and client IP, for anonymous routes: Allow's subject is the source IP that
	// API Gateway reports (requestContext.http.sourceIp), never a client-supplied X-Forwarded-For. An IPv6
	// address counts as its /64 (ClientNetwork).
	ScopeIP
	// ScopeTenant counts per policy and tenant: every user of the tenant shares one budget.
	ScopeTenant
)

// String returns "user", "ip" or "tenant", or "Scope(n)" for an unknown value.
func (s Scope) String() string {
	switch s {
	case ScopeUser:
		return "user"
	case ScopeIP:
		return "ip"
	case ScopeTenant:
		return "tenant"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// Policy is one named limit: Rate requests per Period on average, with up to Burst requests at once.
type Policy struct {
	// Name identifies the policy in Redis keys, overrides and response headers, e.g. "horses.write".
	// 1 to 64 characters from A-Z a-z 0-9 . _ -.
	Name string
	// Rate is how many requests are allowed per Period on average; at least 1.
	Rate int
	// Period is the time Rate is measured over; at least 1ms, and at least Rate nanoseconds.
	Period time.Duration
	// Burst is how many requests may arrive at once on a fresh key; 0 means the same as Rate.
	Burst int
	// Scope says what the requests are counted against.
	Scope Scope
	// Sensitive policies (login, password reset, payment) fail closed: when Redis cannot be reached Allow
	// returns ErrUnavailable instead of falling back to the in-process limiter.
	Sensitive bool
}

// maxNameLen bounds a policy name, which appears in every Redis key and response header.
const maxNameLen = 64

// Validate reports the first problem with p: an empty or over-long name, a character outside
// A-Z a-z 0-9 . _ -, a non-positive rate, a period under 1ms or too short for the rate, a negative burst,
// or an unknown scope. It returns nil for a usable policy.
func (p Policy) Validate() error {
	if err := validateName(p.Name); err != nil {
		return err
	}
	if err := validateLimit(p.Rate, p.Period, p.Burst); err != nil {
		return fmt.Errorf("ratelimit: policy %q: %w", p.Name, err)
	}
	switch p.Scope {
	case ScopeUser, ScopeIP, ScopeTenant:
	default:
		return fmt.Errorf("ratelimit: policy %q: unknown scope %d", p.Name, int(p.Scope))
	}
	return nil
}

func validateName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("ratelimit: policy name %q must be 1 to %d characters", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("ratelimit: policy name %q: only A-Z a-z 0-9 . _ - are allowed", name)
		}
	}
	return nil
}

func validateLimit(rate int, period time.Duration, burst int) error {
	switch {
	case rate < 1:
		return fmt.Errorf("rate %d must be at least 1", rate)
	case period < time.Millisecond:
		return fmt.Errorf("period %s must be at least 1ms", period)
	case int64(rate) > int64(period):
		return fmt.Errorf("rate %d per %s is finer than one request per nanosecond", rate, period)
	case burst < 0:
		return fmt.Errorf("burst %d must not be negative", burst)
	case int64(burst) > math.MaxInt64/int64(period/time.Duration(rate)):
		return fmt.Errorf("burst %d at %d per %s spans more time than a time.Duration holds", burst, rate, period)
	}
	return nil
}

// effective fills in the defaults: a zero Burst becomes Rate.
func (p Policy) effective() Policy {
	if p.Burst == 0 {
		p.Burst = p.Rate
	}
	return p
}

// emission is the GCRA emission interval: the time one request "costs".
func (p Policy) emission() time.Duration { return p.Period / time.Duration(p.Rate) }

// Source says which layer made a Decision.
type Source int

const (
	// SourceRedis: the shared limit in Redis decided.
	SourceRedis Source = iota + 1
	// SourceShield: the in-process shield refused a key Redis had recently denied, without asking Redis.
	SourceShield
	// SourceFallback: Redis could not be reached and the in-process limiter decided (or, for a Sensitive
	// policy, Allow refused with ErrUnavailable).
	SourceFallback
	// SourceLease: a token this instance leased from Redis earlier allowed the request, without a round
	// trip (see WithLeaseMax for the bounds this keeps).
	SourceLease
)

// String returns "redis", "shield", "fallback" or "lease", or "Source(n)" for an unknown value.
func (s Source) String() string {
	switch s {
	case SourceRedis:
		return "redis"
	case SourceShield:
		return "shield"
	case SourceFallback:
		return "fallback"
	case SourceLease:
		return "lease"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Decision is the outcome of one Allow call.
type Decision struct {
	// Policy is the effective policy: the caller's, with the tenant's override applied and Burst filled in.
	Policy Policy
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long to wait before the next request can be allowed; 0 when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to its full burst.
	ResetAfter time.Duration
	// Source says which layer decided.
	Source Source
}

var (
	// ErrUnavailable is returned, wrapping the Redis error, when Redis cannot be reached and the policy is
	// Sensitive. The caller answers 503 with Retry-After taken from the Decision's RetryAfter.
	ErrUnavailable = errors.New("ratelimit: limiter unavailable")
	// ErrInvalid is returned for a programming error: a policy that fails Validate, or a tenant id or
	// subject missing for the policy's scope. The caller answers 500.
	ErrInvalid = errors.New("ratelimit: invalid request")
)
