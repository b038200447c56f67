package platform

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/postgres"
)

// dependency names a client that Warm connects.
type dependency string

const (
	depPostgres    dependency = "postgres"
	depRedis       dependency = "redis"
	depMaintenance dependency = "postgres (maintenance)"
)

// Warm makes the first connection to the database (one per pool, the maintenance pool among them) and the
// first to Redis, in parallel in the background, and returns at once; wait blocks until all are made or
// failed, or ctx ends. A cold start calls it before taking its first event (as soon as each client exists),
// so that request finds its connections made or on their way instead of dialling Postgres and Redis one
// after the other. While a connection is being made, a request that needs that dependency waits for it (up
// to the request's own context) rather than dialling a second one. A failure is logged and otherwise left
// to the requests: they dial again and fail with their own error (a 503 where a dependency is required).
func (d *Deps) Warm(ctx context.Context) (wait func()) {
	waits := []func(){d.warm(ctx, depPostgres), d.warm(ctx, depRedis)}
	if d.Maintenance != nil {
		waits = append(waits, d.warm(ctx, depMaintenance))
	}
	return func() {
		for _, w := range waits {
			w()
		}
	}
}

// warm starts connecting one dependency and returns what waits for it.
func (d *Deps) warm(ctx context.Context, dep dependency) (wait func()) {
	logged := func(err error) {
		// Canceled: the function is shutting down (Close ends the pools) before the warm-up finished.
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			d.Log.LogAttrs(ctx, slog.LevelWarn, "warm-up: "+string(dep)+" not reachable yet", slog.Any("error", err))
		}
	}
	switch dep {
	case depPostgres:
		w := d.DB.Warm(ctx)
		return func() { logged(w()) }
	case depMaintenance:
		w := postgres.WarmPools(ctx, d.Maintenance)
		return func() { logged(w()) }
	default:
		done := make(chan struct{})
		release := d.redisGate.hold()
		go func() {
			defer close(done)
			// A PING: go-redis dials on a command's behalf only; HELLO goes before it on the new connection.
			err := d.Redis.Ping(context.WithValue(ctx, warmKey{}, true)).Err()
			release()
			logged(err)
		}()
		return func() { <-done }
	}
}

// warmKey marks the context of the warm-up's own Redis command, which the gate lets through.
type warmKey struct{}

// redisGate is a go-redis hook that holds the client's commands while the warm-up makes the first
// connection: the client's pool dials a new connection for every command that finds none idle, even while
// another is being made.
type redisGate struct {
	// warming is closed when the warm-up in flight ends; nil when there is none.
	warming atomic.Pointer[chan struct{}]
}

var _ redis.Hook = (*redisGate)(nil)

// hold makes other commands wait until release is called.
func (g *redisGate) hold() (release func()) {
	ch := make(chan struct{})
	g.warming.Store(&ch)
	return func() {
		g.warming.CompareAndSwap(&ch, nil)
		close(ch)
	}
}

// wait returns when no warm-up is in flight, or ctx ends (the command then fails with ctx's error, as it
// would have while dialling).
func (g *redisGate) wait(ctx context.Context) {
	ch := g.warming.Load()
	if ch == nil || ctx.Value(warmKey{}) != nil {
		return
	}
	select {
	case <-*ch:
	case <-ctx.Done():
	}
}

// DialHook implements redis.Hook; it changes nothing.
func (g *redisGate) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: a command waits for the warm-up in flight.
func (g *redisGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.wait(ctx)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: a pipeline waits for the warm-up in flight.
func (g *redisGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.wait(ctx)
		return next(ctx, cmds)
	}
}
