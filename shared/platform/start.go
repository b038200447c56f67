package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/logging"
)

// warmTimeout bounds the background warm-up of a cold start (Deps.Warm).
const warmTimeout = 5 * time.Second

// HTTPFunction builds a function's route table from its dependencies.
type HTTPFunction func(d *Deps) []Route

// StartHTTP is the whole of an HTTP function's main: read the configuration (failing with a message that
// names each bad variable), build the clients once, and serve API Gateway events until the runtime stops.
func StartHTTP(ctx context.Context, name string, getenv func(string) string, fn HTTPFunction, opts ...Option) error {
	d, serve, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	serve(LambdaHTTP(d, fn(d)))
	return nil
}

// LambdaHTTP is the Lambda handler StartHTTP serves: routes' Handler behind the API Gateway adapter, each
// invocation followed by settle.
func LambdaHTTP(d *Deps, routes []Route) lambdax.HTTPFunc {
	return lambdax.HTTP(Handler(d, routes)).Then(d.settle)
}

// SQSFunction builds a queue consumer's per-message handler from its dependencies.
type SQSFunction func(d *Deps) lambdax.MessageHandler

// ScheduleFunction builds a scheduled function's run from its dependencies.
type ScheduleFunction func(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error

// StartSQS is the whole of a queue consumer's main: configuration, clients, then SQS batches handled one
// message at a time with partial batch failures.
func StartSQS(ctx context.Context, name string, getenv func(string) string, fn SQSFunction, opts ...Option) error {
	d, serve, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	serve(lambdax.SQS(d.Log, fn(d)).Then(d.settle))
	return nil
}

// StartSchedule is the whole of a scheduled function's main.
func StartSchedule(ctx context.Context, name string, getenv func(string) string, fn ScheduleFunction, opts ...Option) error {
	d, serve, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	serve(lambdax.Schedule(fn(d)).Then(d.settle))
	return nil
}

// start reads the configuration and builds the clients with the function's optional parts, connecting to
// Postgres and Redis in the background (Warm). serve primes the encoding of handler's events
// (lambdax.Prime) and serves handler until the runtime stops.
//
// A function registers no extension, so Lambda sends it no SIGTERM: a runtime without one is ended with
// SIGKILL. The registration cost a round trip to the Extensions API on every cold start's path, where the
// function has nothing else to wait for; what a SIGTERM handler would do is done after each invocation
// instead (settle), and the connections are left for the servers to notice closed, as after any crash.
func start(ctx context.Context, name string, getenv func(string) string, opts []Option) (d *Deps, serve func(handler any), err error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Function == "corral" {
		cfg.Function = name
	}
	log := logging.New(os.Stdout, cfg.LogLevel, cfg.Function)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), warmTimeout)
	var waits []func()
	warm := func(d *Deps, dep dependency) { waits = append(waits, d.warm(wctx, dep)) }
	d, err = newDeps(ctx, cfg, log, warm, opts)
	go func() {
		defer cancel()
		for _, w := range waits {
			w()
		}
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, func(handler any) {
		lambdax.Prime(handler)
		lambda.StartWithOptions(handler, lambda.WithContext(ctx))
	}, nil
}

// settle runs after each invocation, before its response goes back: Lambda may freeze the execution
// environment as soon as the response is sent and end it without notice, so the audit events the
// invocation recorded are written first (a flush bounded by auditFlushTimeout, which returns at once when
// nothing is pending, as for most invocations). When events have been lost since the last report (dropped
// from a full queue, failed, or still unwritten when the flush ran out of time) it logs one warning with the
// environment's audit counts, so a loss shows in the logs rather than only in a missing row.
func (d *Deps) settle(ctx context.Context) {
	if d.Audit == nil {
		return
	}
	var err error
	if d.Audit.Pending() > 0 { // most invocations record nothing: no timer for them
		fctx, cancel := context.WithTimeout(ctx, auditFlushTimeout)
		err = d.Audit.Flush(fctx)
		cancel()
	}
	st := d.Audit.Stats()
	lost := st.Dropped + st.Failed
	if err == nil && lost == d.auditLost {
		return
	}
	d.auditLost = lost
	attrs := []slog.Attr{slog.Uint64("audit_written", st.Written), slog.Uint64("audit_dropped", st.Dropped), slog.Uint64("audit_failed", st.Failed)}
	if err != nil {
		attrs = append(attrs, slog.String("error", "audit flush: "+err.Error()))
	}
	d.Log.LogAttrs(ctx, slog.LevelWarn, "audit events not written", attrs...)
}
