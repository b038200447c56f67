package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ping checks that the write pool can reach the database (and the read pool, when there is one).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.Ping(ctx); err != nil {
		return err
	}
	if db.read != nil && db.read != db.write {
		return db.read.Ping(ctx)
	}
	return nil
}

// Warm opens one connection in the write pool, and one in the read pool when there is one, in the
// background, and returns at once; wait blocks until they are made or failed (or ctx ends) and returns the
// failures, each wrapped with %w (nil when both were made). The connections are only opened, with no query,
// and go back to their pools idle.
//
// Until a pool's connection is made or failed, every other acquisition from that pool (a pool made by
// Open) waits for it, up to its own context, instead of dialling a connection of its own: a cold start that
// calls Warm before taking its first request has that request use the connection already on its way rather
// than a second one started later (a pool makes a new connection for each acquisition that finds none idle,
// even while another is being made). A failure changes nothing else: the next acquisition dials again and
// returns its own error, so a database that is down still fails each request as it did.
func (db *DB) Warm(ctx context.Context) (wait func() error) {
	pools := []*pgxpool.Pool{db.write}
	if db.read != nil && db.read != db.write {
		pools = append(pools, db.read)
	}
	return WarmPools(ctx, pools...)
}

// WarmPools is DB.Warm for pools of their own (the maintenance pool): it opens one connection in each, in
// the background, with the same hold on the pools' other acquisitions while it does.
func WarmPools(ctx context.Context, pools ...*pgxpool.Pool) (wait func() error) {
	errs := make(chan error, len(pools))
	for _, pool := range pools {
		release := holdAcquisitions(pool)
		go func() {
			defer release()
			conn, err := pool.Acquire(context.WithValue(ctx, warmKey{}, true))
			if err != nil {
				errs <- fmt.Errorf("postgres: warm: %w", err)
				return
			}
			conn.Release()
			errs <- nil
		}()
	}
	return func() error {
		var err error
		for range pools {
			err = errors.Join(err, <-errs)
		}
		return err
	}
}

// warmKey marks the context of Warm's own acquisition, which the gate lets through.
type warmKey struct{}

// warmGate holds a pool's acquisitions while Warm opens its first connection. pgxpool has no hook between
// "no idle connection" and "dial a new one", so the gate sits in the one hook that runs before every
// acquisition, pgxpool.AcquireTracer.TraceAcquireStart; it traces nothing (the pgx.QueryTracer methods
// that make it a valid ConnConfig.Tracer do nothing). Open installs one in every pool.
type warmGate struct {
	// warming is closed when the warm-up in flight ends; nil when there is none.
	warming atomic.Pointer[chan struct{}]
}

var (
	_ pgx.QueryTracer       = (*warmGate)(nil)
	_ pgxpool.AcquireTracer = (*warmGate)(nil)
)

// holdAcquisitions makes pool's other acquisitions wait until release is called. It does nothing (and
// release nothing) for a pool that was not made by Open.
func holdAcquisitions(pool *pgxpool.Pool) (release func()) {
	g, ok := pool.Config().ConnConfig.Tracer.(*warmGate)
	if !ok {
		return func() {}
	}
	ch := make(chan struct{})
	g.warming.Store(&ch)
	return func() {
		g.warming.CompareAndSwap(&ch, nil)
		close(ch)
	}
}

// TraceAcquireStart waits for the warm-up in flight, if any, or for ctx to end (the acquisition then
// fails with ctx's error, as it would have while dialling).
func (g *warmGate) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	ch := g.warming.Load()
	if ch == nil || ctx.Value(warmKey{}) != nil {
		return ctx
	}
	select {
	case <-*ch:
	case <-ctx.Done():
	}
	return ctx
}

// TraceAcquireEnd does nothing.
func (*warmGate) TraceAcquireEnd(context.Context, *pgxpool.Pool, pgxpool.TraceAcquireEndData) {}

// TraceQueryStart does nothing.
func (*warmGate) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd does nothing.
func (*warmGate) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
