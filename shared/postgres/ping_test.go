package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/holdproxy"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// eventually polls cond for up to a second.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// proxiedDB returns a DB on a pool of 2 that reaches a fresh test database through a holding proxy.
func proxiedDB(t *testing.T) (*postgres.DB, *pgxpool.Pool, *holdproxy.Proxy) {
	t.Helper()
	raw, proxy := holdproxy.Via(t, pgtest.New(t).AppURL)
	pool, err := postgres.Open(context.Background(), raw, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.New(pool, nil), pool, proxy
}

// A request that needs the database while the warm-up's connection is still being made waits for that
// connection instead of dialling a second one (which a cold start would wait for in full, later).
func TestWarmIsTheConnectionOthersWaitFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, pool, proxy := proxiedDB(t)

	wait := db.Warm(ctx)
	if !eventually(func() bool { return proxy.Accepted() == 1 }) {
		t.Fatalf("the warm-up dialled %d connections, want 1", proxy.Accepted())
	}
	pinged := make(chan error, 1)
	go func() { pinged <- db.Ping(ctx) }()
	// Without the gate the ping dials its own connection at once; give it the time to show.
	if eventually(func() bool { return proxy.Accepted() > 1 }) {
		t.Fatalf("a request during the warm-up dialled a connection of its own (%d in all)", proxy.Accepted())
	}
	select {
	case err := <-pinged:
		t.Fatalf("Ping returned (%v) before the warm-up's connection was made", err)
	default:
	}
	proxy.Release()
	if err := wait(); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	if err := <-pinged; err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if n, total := proxy.Accepted(), pool.Stat().TotalConns(); n != 1 || total != 1 {
		t.Errorf("%d connections dialled, %d in the pool; want 1 and 1", n, total)
	}
	// The gate is open again: a second concurrent use may add a connection, as without a warm-up.
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after the warm-up: %v", err)
	}
}

// An acquisition that waits for the warm-up still ends with its own context.
func TestWarmWaitingKeepsTheCallersDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, proxy := proxiedDB(t)
	wait := db.Warm(ctx)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := db.Ping(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping with a 50ms deadline during a held warm-up: %v, want context.DeadlineExceeded", err)
	}
	proxy.Release()
	if err := wait(); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
}

// A database that cannot be reached fails the warm-up, and every later request still gets its own error
// rather than waiting.
func TestWarmFailureLeavesRequestsTheirOwnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens on port 1.
	pool, err := postgres.Open(ctx, "postgres://corral_app@127.0.0.1:1/corral?sslmode=disable&connect_timeout=2", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := postgres.New(pool, nil)
	err = db.Warm(ctx)()
	if err == nil || !strings.HasPrefix(err.Error(), "postgres: warm: ") {
		t.Fatalf("warm-up of a closed port: %v, want an error starting with postgres: warm:", err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.Ping(short); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping after a failed warm-up: %v, want the connection's own error", err)
	}
}
