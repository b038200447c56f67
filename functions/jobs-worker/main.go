// Command jobs-worker is the jobs queue's consumer: each message is one background job, run by kind.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("jobs-worker: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartSQS(ctx, "jobs-worker", getenv, catalog.JobsWorker)
}
