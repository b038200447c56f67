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
	serve(lambdax.HTTP(Handler(d, fn(d))))
	return nil
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
	serve(lambdax.SQS(d.Log, fn(d)))
	return nil
}

// StartSchedule is the whole of a scheduled function's main.
func StartSchedule(ctx context.Context, name string, getenv func(string) string, fn ScheduleFunction, opts ...Option) error {
	d, serve, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	serve(lambdax.Schedule(fn(d)))
	return nil
}

// start reads the configuration and builds the clients with the function's optional parts. In the
// background, from the moment each is possible, it registers for SIGTERM with the Extensions API and
// connects to Postgres and Redis (Warm). serve waits for the registration, which Lambda accepts only before
// the first event is asked for, then shuts down on SIGTERM (d.Close and a line of audit counts) and serves
// handler until the runtime stops.
// While it waits for the registration it primes the encoding of handler's events (lambdax.Prime).
func start(ctx context.Context, name string, getenv func(string) string, opts []Option) (d *Deps, serve func(handler any), err error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Function == "corral" {
		cfg.Function = name
	}
	log := logging.New(os.Stdout, cfg.LogLevel, cfg.Function)
	registered := lambdax.RegisterForSIGTERM(ctx, getenv("AWS_LAMBDA_RUNTIME_API"), log)
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
		registered()
		lambdax.OnSIGTERM(d.shutdown)
		lambda.StartWithOptions(handler, lambda.WithContext(ctx))
	}, nil
}

// shutdown is what a function does on SIGTERM: Close, then one line saying what became of the audit
// events of this execution environment's life, so events dropped (queue full, or still queued when the
// flush ran out of time) or failed show in the logs rather than only in a missing row.
func (d *Deps) shutdown() {
	d.Close()
	if d.Audit == nil {
		return
	}
	st := d.Audit.Stats()
	level := slog.LevelInfo
	if st.Dropped > 0 || st.Failed > 0 {
		level = slog.LevelWarn
	}
	d.Log.LogAttrs(context.Background(), level, "shutdown",
		slog.Uint64("audit_written", st.Written), slog.Uint64("audit_dropped", st.Dropped), slog.Uint64("audit_failed", st.Failed))
}
