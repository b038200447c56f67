package platform

import (
	"context"
	"fmt"
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
	d, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	h := Handler(d, fn(d))
	lambda.StartWithOptions(lambdax.HTTP(h), lambda.WithContext(ctx), lambda.WithEnableSIGTERM(d.Close))
	return nil
}

// SQSFunction builds a queue consumer's per-message handler from its dependencies.
type SQSFunction func(d *Deps) lambdax.MessageHandler

// ScheduleFunction builds a scheduled function's run from its dependencies.
type ScheduleFunction func(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error

// StartSQS is the whole of a queue consumer's main: configuration, clients, then SQS batches handled one
// message at a time with partial batch failures.
func StartSQS(ctx context.Context, name string, getenv func(string) string, fn SQSFunction, opts ...Option) error {
	d, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(lambdax.SQS(d.Log, fn(d)), lambda.WithContext(ctx), lambda.WithEnableSIGTERM(d.Close))
	return nil
}

// StartSchedule is the whole of a scheduled function's main.
func StartSchedule(ctx context.Context, name string, getenv func(string) string, fn ScheduleFunction, opts ...Option) error {
	d, err := start(ctx, name, getenv, opts)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(lambdax.Schedule(fn(d)), lambda.WithContext(ctx), lambda.WithEnableSIGTERM(d.Close))
	return nil
}

// start reads the configuration and builds the clients with the function's optional parts, connecting to
// Postgres and Redis in the background (Warm) from the moment each client exists.
func start(ctx context.Context, name string, getenv func(string) string, opts []Option) (*Deps, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Function == "corral" {
		cfg.Function = name
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), warmTimeout)
	var waits []func()
	warm := func(d *Deps, dep dependency) { waits = append(waits, d.warm(wctx, dep)) }
	d, err := newDeps(ctx, cfg, logging.New(os.Stdout, cfg.LogLevel, cfg.Function), warm, opts)
	go func() {
		defer cancel()
		for _, w := range waits {
			w()
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}
