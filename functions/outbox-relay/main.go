// Command outbox-relay is the outbox relay: every minute it publishes the outbox rows of every tenant
// that were not published right after their commit, as corral_maint.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("outbox-relay: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("DATABASE_MAINTENANCE_URL") == "" {
		return errors.New("outbox-relay: DATABASE_MAINTENANCE_URL is not set: the relay reads every tenant's outbox as corral_maint")
	}
	return platform.StartSchedule(ctx, "outbox-relay", getenv, catalog.OutboxRelay)
}
