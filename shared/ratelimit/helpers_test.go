package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
		tb.Fatalf("ratelimit tests need Redis at %s (set CORRAL_TEST_REDIS_URL): %v", url, err)
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

// uniquePrefix returns a key prefix no other test or package uses, and deletes its keys when tb ends.
func uniquePrefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("random prefix: %v", err)
	}
	name := strings.NewReplacer("/", ".", " ", "_", ":", ".").Replace(tb.Name())
	prefix := "test:ratelimit:" + name + ":" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() { deleteKeys(tb, rdb, prefix) })
	return prefix
}

// deleteKeys deletes every rate-limit key under prefix and returns how many it deleted.
func deleteKeys(tb testing.TB, rdb *redis.Client, prefix string) int {
	tb.Helper()
	ctx := context.Background()
	var n int
	iter := rdb.Scan(ctx, 0, "rate:"+prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			tb.Errorf("delete %s: %v", iter.Val(), err)
		}
		n++
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scan %s: %v", prefix, err)
	}
	return n
}

// unreachableRedis returns a client pointed at a local port nothing listens on, failing fast.
func unreachableRedis(tb testing.TB) (*redis.Client, *commandCounter) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("close listener: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:        addr,
		DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond,
		MaxRetries:  -1,
		// go-redis retries a failed dial 5 times 100ms apart by default: 400ms per command.
		DialerRetries: 1,
	})
	tb.Cleanup(func() { _ = rdb.Close() })
	c := &commandCounter{}
	rdb.AddHook(c)
	return rdb, c
}

// quietRedis silences go-redis's own log lines (failed dials) until tb ends, so that benchmark output stays
// parseable by benchstat.
func quietRedis(tb testing.TB) {
	redis.SetLogger(discardRedisLog{})
	tb.Cleanup(func() { redis.SetLogger(stderrRedisLog{log.New(os.Stderr, "redis: ", log.LstdFlags)}) })
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

type stderrRedisLog struct{ l *log.Logger }

func (s stderrRedisLog) Printf(_ context.Context, format string, v ...any) { s.l.Printf(format, v...) }

// fakeClock is a settable clock for the shield, the fallback and the backoff.
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

// mustAllow calls Allow and fails the test on an error.
func mustAllow(tb testing.TB, l *Limiter, p Policy, tenantID, subject string) Decision {
	tb.Helper()
	d, err := l.Allow(context.Background(), p, tenantID, subject)
	if err != nil {
		tb.Fatalf("Allow(%s, %q, %q): %v", p.Name, tenantID, subject, err)
	}
	return d
}

const (
	tenantA = "0b6f4c1e-3c55-4d6e-9a51-0d6b8e2f7a01"
	tenantB = "7d2a9f30-51c4-4b8e-8f0a-2c6e1d9b4f02"
	userA   = "11111111-1111-4111-8111-111111111111"
	userB   = "22222222-2222-4222-8222-222222222222"
)
