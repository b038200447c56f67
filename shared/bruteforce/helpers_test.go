package bruteforce_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/bruteforce"
)

// testRedis connects to the real Redis (CORRAL_TEST_REDIS_URL, else 127.0.0.1:6379) and returns the client
// and a counter of the commands sent through it. An unreachable Redis fails the test: never skipped.
func testRedis(tb testing.TB) (*redis.Client, *commandCounter) {
	tb.Helper()
	url := os.Getenv("CORRAL_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("CORRAL_TEST_REDIS_URL %q: %v", url, err)
	}
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("bruteforce tests need Redis at %s (set CORRAL_TEST_REDIS_URL): %v", url, err)
	}
	c := &commandCounter{}
	rdb.AddHook(c)
	return rdb, c
}

// commandCounter is a redis.Hook counting every command the client sends.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// uniquePrefix returns a key prefix no other test uses, and deletes its keys when tb ends.
func uniquePrefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("random prefix: %v", err)
	}
	name := strings.NewReplacer("/", ".", " ", "_", ":", ".").Replace(tb.Name())
	prefix := "test:bruteforce:" + name + ":" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		for _, k := range keysUnder(tb, rdb, prefix) {
			if err := rdb.Del(context.Background(), k).Err(); err != nil {
				tb.Errorf("delete %s: %v", k, err)
			}
		}
	})
	return prefix
}

// keysUnder lists the keys that start with prefix.
func keysUnder(tb testing.TB, rdb *redis.Client, prefix string) []string {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scan %s: %v", prefix, err)
	}
	return keys
}

// failFastOptions are client options that give up quickly on a dead server.
func failFastOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:        addr,
		DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond,
		MaxRetries:  -1,
		// go-redis retries a failed dial 5 times 100ms apart by default.
		DialerRetries: 1,
	}
}

// unreachableRedis returns a client pointed at a local port nothing listens on.
func unreachableRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("close listener: %v", err)
	}
	rdb := redis.NewClient(failFastOptions(addr))
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// silentRedis returns a client pointed at a server that accepts connections and never answers: a Redis
// too slow to be of use.
func silentRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	o := failFastOptions(ln.Addr().String())
	o.ReadTimeout = 5 * time.Second // the Guard's own timeout must end the wait
	o.ContextTimeoutEnabled = true
	rdb := redis.NewClient(o)
	tb.Cleanup(func() {
		_ = rdb.Close()
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return rdb
}

// fakeClock is a settable clock for the Guard's decisions.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// auditLog collects the recorded events; it stands in for audit.Writer, whose storage is tested in
// package audit.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

var _ bruteforce.Recorder = (*auditLog)(nil)

func (a *auditLog) Record(e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) recorded() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.events...)
}

// kinds returns the kinds of the recorded events, in order.
func (a *auditLog) kinds() []string {
	var ks []string
	for _, e := range a.recorded() {
		ks = append(ks, e.Kind)
	}
	return ks
}

// fixture is a Guard over the real Redis with its own key prefix, a fake clock and an audit log.
type fixture struct {
	g      *bruteforce.Guard
	rdb    *redis.Client
	cmds   *commandCounter
	clock  *fakeClock
	audit  *auditLog
	prefix string
}

// newFixture builds a fixture; o's KeyPrefix and Now are set by the fixture.
func newFixture(tb testing.TB, o bruteforce.Options) *fixture {
	tb.Helper()
	rdb, cmds := testRedis(tb)
	f := &fixture{rdb: rdb, cmds: cmds, clock: newFakeClock(), audit: &auditLog{}, prefix: uniquePrefix(tb, rdb)}
	o.KeyPrefix, o.Now = f.prefix, f.clock.Now
	g, err := bruteforce.New(rdb, o, f.audit)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	f.g = g
	return f
}

func (f *fixture) check(tb testing.TB, account, ip string) bruteforce.Decision {
	tb.Helper()
	d, err := f.g.Check(context.Background(), account, ip)
	if err != nil {
		tb.Fatalf("Check(%q, %q): %v", account, ip, err)
	}
	return d
}

func (f *fixture) fail(tb testing.TB, account, ip string) bruteforce.Decision {
	tb.Helper()
	d, err := f.g.Failure(context.Background(), account, ip)
	if err != nil {
		tb.Fatalf("Failure(%q, %q): %v", account, ip, err)
	}
	return d
}

// failN records n failures and returns the last Decision.
func (f *fixture) failN(tb testing.TB, n int, account, ip string) bruteforce.Decision {
	tb.Helper()
	var d bruteforce.Decision
	for range n {
		d = f.fail(tb, account, ip)
	}
	return d
}

var allowed = bruteforce.Decision{Allowed: true}

func locked(reason string, d time.Duration) bruteforce.Decision {
	return bruteforce.Decision{RetryAfter: d, Reason: reason}
}
