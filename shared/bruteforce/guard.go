// Package bruteforce defends sign-in against password and code guessing with failure counters in Redis,
// shared by every Lambda instance:
//
//   - per account: after Account.Threshold failures within Account.Window the account is locked for
//     Account.Lock; while failures keep coming (another one within Account.Window of the lock's end) every
//     further failure locks it again for twice as long, up to Account.MaxLock;
//   - per source IP: the same with the IP limit, so one client cannot guess across accounts without end;
//   - spread: an IP that fails against Spread.Accounts distinct accounts within Spread.Window is blocked
//     for Spread.Block.
//
// The caller asks Check before it verifies a password or code, reports the outcome with Failure or
// Success, and answers a refused attempt the same way whether or not the account exists (the guard counts
// unknown accounts like known ones, so its decisions reveal nothing either).
//
// Every check and record is one Lua script, one round trip. Redis errors and timeouts fail closed with
// ErrUnavailable: sign-in is a sensitive route. Each lockout and block is an audit event.
//
// Keys hold no clear account identifier: the account key is hashed again (SHA-256) before it names a key.
// All of a call's keys share Options.KeyPrefix; on Redis Cluster give the prefix a hash tag (for example
// "{corral:bf}:") so one script's keys share a slot.
package bruteforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Defaults for zero Options fields.
const (
	DefaultKeyPrefix = "corral:bf:"

	DefaultAccountThreshold = 5
	DefaultAccountWindow    = 15 * time.Minute
	DefaultAccountLock      = time.Minute
	DefaultAccountMaxLock   = time.Hour

	DefaultIPThreshold = 20
	DefaultIPWindow    = 15 * time.Minute
	DefaultIPLock      = time.Minute
	DefaultIPMaxLock   = time.Hour

	DefaultSpreadAccounts = 10
	DefaultSpreadWindow   = 15 * time.Minute
	DefaultSpreadBlock    = time.Hour

	// DefaultTimeout bounds each call's Redis round trip; a slower Redis is treated as down.
	DefaultTimeout = 300 * time.Millisecond
	// DefaultIPv6Prefix is how many leading bits of an IPv6 address name its client: a /64 is one
	// subscriber's network, whose addresses an attacker can rotate at will.
	DefaultIPv6Prefix = ratelimit.IPv6ClientPrefix

	// UnavailableRetry is the RetryAfter of a Decision returned with ErrUnavailable.
	UnavailableRetry = 5 * time.Second
)

// Reasons a Decision refuses an attempt.
const (
	ReasonAccountLocked = "account_locked"
	ReasonIPLocked      = "ip_locked"
	ReasonIPBlocked     = "ip_blocked"
)

// Audit event kinds, one per lockout or block that starts. Their Detail holds "account" (a short hash of
// the account key, never the key itself) or "ip", "level" (1 for a first lock, 2 for the doubled one...),
// and "lock_seconds".
const (
	KindAccountLocked = "auth.account_locked"
	KindIPLocked      = "auth.ip_locked"
	KindIPBlocked     = "auth.ip_blocked"
)

var (
	// ErrUnavailable is returned, wrapping the cause, when Redis cannot be reached or does not answer
	// within Options.Timeout. The Decision then refuses with RetryAfter UnavailableRetry: the caller answers
	// 503 with Retry-After (fail closed).
	ErrUnavailable = errors.New("bruteforce: guard unavailable")
	// ErrInvalid is returned for a programming error: an empty account key, or Options New cannot use.
	ErrInvalid = errors.New("bruteforce: invalid use")
)

// Limit is an escalating lockout: Threshold failures within Window lock for Lock; each further failure
// within Window of a lock's end locks again for twice the previous lock, at most MaxLock. After Window
// without failures past a lock's end the subject starts afresh.
type Limit struct {
	Threshold int
	Window    time.Duration
	Lock      time.Duration
	MaxLock   time.Duration
}

// Spread blocks an IP that fails against Accounts distinct accounts within Window, for Block.
type Spread struct {
	Accounts int
	Window   time.Duration
	Block    time.Duration
}

// Options configure a Guard. Zero fields take the Default constants.
type Options struct {
	// KeyPrefix starts every Redis key (DefaultKeyPrefix). Tests use a unique prefix each.
	KeyPrefix string
	// Account limits failures per account key: 5 in 15 min lock for 1 min, doubling up to 1 h.
	Account Limit
	// IP limits failures per source IP: 20 in 15 min lock for 1 min, doubling up to 1 h.
	IP Limit
	// Spread blocks an IP failing against 10 distinct accounts in 15 min, for 1 h.
	Spread Spread
	// Timeout bounds each call (DefaultTimeout).
	Timeout time.Duration
	// IPv6Prefix is the prefix length an IPv6 address is counted under (DefaultIPv6Prefix); IPv4
	// addresses count one by one.
	IPv6Prefix int
	// Now, when set, is the clock of every decision (tests). Otherwise Redis's own clock (TIME) is used,
	// so that every instance agrees.
	Now func() time.Time
}

// Recorder receives an audit event without blocking; *audit.Writer implements it.
type Recorder interface {
	Record(audit.Event)
}

// Decision is the outcome of Check or Failure.
type Decision struct {
	// Allowed reports whether an attempt may be verified now.
	Allowed bool
	// RetryAfter is how long until the longest restriction in force ends; 0 when Allowed.
	RetryAfter time.Duration
	// Reason names that restriction (ReasonAccountLocked, ReasonIPLocked, ReasonIPBlocked); "" when
	// Allowed. It is for logs and metrics: an answer to the client must not depend on it, since an
	// account lock would otherwise tell an attacker that the key was tried before.
	Reason string
}

// Guard counts failed sign-ins in Redis. Build one per cold start with New; it is safe for concurrent use.
type Guard struct {
	rdb redis.Scripter
	o   Options
	rec Recorder
}

// New returns a Guard over rdb (a *redis.Client, *redis.ClusterClient or redis.UniversalClient) that sends
// lockout and block events to rec (nil: none). Zero Options fields take their defaults; a negative value,
// or a MaxLock under its Lock, is an error wrapping ErrInvalid.
//
// Build rdb for failure as for the rate limiter: short DialTimeout and ReadTimeout, MaxRetries -1 or 1 and
// DialerRetries 1, so that a dead Redis costs an attempt at most about Options.Timeout.
func New(rdb redis.Scripter, o Options, rec Recorder) (*Guard, error) {
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if err := fill(&o.Account, Limit{DefaultAccountThreshold, DefaultAccountWindow, DefaultAccountLock, DefaultAccountMaxLock}); err != nil {
		return nil, fmt.Errorf("%w: account limit: %w", ErrInvalid, err)
	}
	if err := fill(&o.IP, Limit{DefaultIPThreshold, DefaultIPWindow, DefaultIPLock, DefaultIPMaxLock}); err != nil {
		return nil, fmt.Errorf("%w: ip limit: %w", ErrInvalid, err)
	}
	s := &o.Spread
	if s.Accounts < 0 || s.Window < 0 || s.Block < 0 {
		return nil, fmt.Errorf("%w: spread: negative value", ErrInvalid)
	}
	s.Accounts = or(s.Accounts, DefaultSpreadAccounts)
	s.Window = or(s.Window, DefaultSpreadWindow)
	s.Block = or(s.Block, DefaultSpreadBlock)
	if o.Timeout < 0 || o.IPv6Prefix < 0 || o.IPv6Prefix > 128 {
		return nil, fmt.Errorf("%w: timeout %s, IPv6 prefix %d", ErrInvalid, o.Timeout, o.IPv6Prefix)
	}
	o.Timeout = or(o.Timeout, DefaultTimeout)
	o.IPv6Prefix = or(o.IPv6Prefix, DefaultIPv6Prefix)
	return &Guard{rdb: rdb, o: o, rec: rec}, nil
}

func fill(l *Limit, def Limit) error {
	if l.Threshold < 0 || l.Window < 0 || l.Lock < 0 || l.MaxLock < 0 {
		return errors.New("negative value")
	}
	l.Threshold = or(l.Threshold, def.Threshold)
	l.Window = or(l.Window, def.Window)
	l.Lock = or(l.Lock, def.Lock)
	l.MaxLock = or(l.MaxLock, max(def.MaxLock, l.Lock))
	if l.MaxLock < l.Lock {
		return fmt.Errorf("max lock %s is under the lock %s", l.MaxLock, l.Lock)
	}
	return nil
}

func or[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Check reports whether an attempt on account from ip may be verified: no account lock, IP lock or IP
// block is in force. It changes nothing. account is the caller's opaque key for the account (a blind
// index of the normalised email, say), the same for unknown accounts as for known ones; ip is the source
// IP (middleware.ClientIP).
//
// The error wraps ErrUnavailable when Redis cannot answer (the Decision then refuses), or ErrInvalid for an
// empty account.
func (g *Guard) Check(ctx context.Context, account, ip string) (Decision, error) {
	if account == "" {
		return Decision{}, fmt.Errorf("%w: empty account key", ErrInvalid)
	}
	k := g.keys(account, ip)
	ctx, cancel := context.WithTimeout(ctx, g.o.Timeout)
	defer cancel()
	res, err := checkScript.Run(ctx, g.rdb, []string{k.account, k.ip}, g.now()).Int64Slice()
	if err != nil {
		return unavailable(err)
	}
	if len(res) != 3 {
		return unavailable(fmt.Errorf("check script returned %d values", len(res)))
	}
	return decide(res[0], res[1], res[2]), nil
}

// Failure records a wrong password or code for account from ip and returns the Decision for the next
// attempt. It starts the lockouts and blocks the failure earns and records an audit event for each; a
// failure while a restriction is already in force changes nothing.
//
// The error wraps ErrUnavailable when Redis cannot answer (the failure is then not counted, and the
// Decision refuses), or ErrInvalid for an empty account.
func (g *Guard) Failure(ctx context.Context, account, ip string) (Decision, error) {
	if account == "" {
		return Decision{}, fmt.Errorf("%w: empty account key", ErrInvalid)
	}
	k := g.keys(account, ip)
	a, i, s := g.o.Account, g.o.IP, g.o.Spread
	tctx, cancel := context.WithTimeout(ctx, g.o.Timeout)
	defer cancel()
	res, err := failureScript.Run(tctx, g.rdb, []string{k.account, k.ip, k.spread},
		g.now(),
		a.Threshold, a.Window.Milliseconds(), a.Lock.Milliseconds(), a.MaxLock.Milliseconds(),
		i.Threshold, i.Window.Milliseconds(), i.Lock.Milliseconds(), i.MaxLock.Milliseconds(),
		s.Accounts, s.Window.Milliseconds(), s.Block.Milliseconds(),
		k.member,
	).Int64Slice()
	if err != nil {
		return unavailable(err)
	}
	if len(res) != 8 {
		return unavailable(fmt.Errorf("failure script returned %d values", len(res)))
	}
	acctLeft, acctLevel, ipLeft, ipLevel, blockLeft, distinct := res[0], res[1], res[3], res[4], res[6], res[7]
	if res[2] == 1 {
		g.record(ctx, KindAccountLocked, ip, map[string]any{"account": k.member[:16], "level": acctLevel, "lock_seconds": seconds(acctLeft)})
	}
	if res[5] == 1 {
		g.record(ctx, KindIPLocked, ip, map[string]any{"ip_key": k.ipName, "level": ipLevel, "lock_seconds": seconds(ipLeft)})
	}
	if distinct > 0 {
		g.record(ctx, KindIPBlocked, ip, map[string]any{"ip_key": k.ipName, "accounts": distinct, "lock_seconds": seconds(blockLeft)})
	}
	return decide(acctLeft, ipLeft, blockLeft), nil
}

// Success records a verified sign-in for account: its failure count and lock escalation start afresh (a
// lock in force stays). The IP's counters are untouched, so that one valid account cannot launder an
// attacker's guesses at others. ip is taken for symmetry with Check and Failure and not used.
//
// The error wraps ErrUnavailable when Redis cannot answer, or ErrInvalid for an empty account; the caller
// may log it and let the sign-in proceed.
func (g *Guard) Success(ctx context.Context, account, ip string) error {
	if account == "" {
		return fmt.Errorf("%w: empty account key", ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, g.o.Timeout)
	defer cancel()
	if err := successScript.Run(ctx, g.rdb, []string{g.accountKey(account)}, g.now()).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func unavailable(err error) (Decision, error) {
	return Decision{RetryAfter: UnavailableRetry}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// decide turns the milliseconds left on each restriction into a Decision naming the longest.
func decide(accountLeft, ipLeft, blockLeft int64) Decision {
	d := Decision{Allowed: true}
	for _, c := range []struct {
		left   int64
		reason string
	}{{blockLeft, ReasonIPBlocked}, {ipLeft, ReasonIPLocked}, {accountLeft, ReasonAccountLocked}} {
		if c.left > 0 && time.Duration(c.left)*time.Millisecond > d.RetryAfter {
			d = Decision{RetryAfter: time.Duration(c.left) * time.Millisecond, Reason: c.reason}
		}
	}
	return d
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }

// now is the clock argument of the scripts: Unix milliseconds, or 0 for Redis's own clock.
func (g *Guard) now() int64 {
	if g.o.Now == nil {
		return 0
	}
	return g.o.Now().UnixMilli()
}

func (g *Guard) record(ctx context.Context, kind, ip string, detail map[string]any) {
	logging.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "bruteforce: "+kind, slog.String("ip", ip), slog.Any("detail", detail))
	if g.rec == nil {
		return
	}
	g.rec.Record(audit.Event{Kind: kind, IP: ip, RequestID: httpapi.RequestID(ctx), Detail: detail})
}

type keys struct {
	account, ip, spread string
	member              string // the hashed account key: the spread set's member
	ipName              string // the IP, or its IPv6 network, as counted
}

func (g *Guard) keys(account, ip string) keys {
	ipName := g.ipName(ip)
	return keys{
		account: g.accountKey(account),
		ip:      g.o.KeyPrefix + "ip:" + ipName,
		spread:  g.o.KeyPrefix + "spread:" + ipName,
		member:  hashAccount(account),
		ipName:  ipName,
	}
}

func (g *Guard) accountKey(account string) string {
	return g.o.KeyPrefix + "acct:" + hashAccount(account)
}

func hashAccount(account string) string {
	sum := sha256.Sum256([]byte(account))
	return hex.EncodeToString(sum[:])
}

// ipName is the client an address counts as (ratelimit.ClientNetwork with IPv6Prefix); an empty address
// counts as "unknown".
func (g *Guard) ipName(ip string) string {
	if ip == "" {
		return "unknown"
	}
	return ratelimit.ClientNetwork(ip, g.o.IPv6Prefix)
}
