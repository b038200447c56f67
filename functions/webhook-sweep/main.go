// Command webhook-sweep is the webhook-sweep Lambda (every minute): it queues the webhook attempts whose
// wait was longer than a queue delay allows once they are due, and attempts whose message was lost,
// across tenants, as corral_maint.
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
		slog.Error("webhook-sweep: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("DATABASE_MAINTENANCE_URL") == "" {
		return errors.New("webhook-sweep: DATABASE_MAINTENANCE_URL is not set: the sweep reads every tenant's deliveries as corral_maint")
	}
	return platform.StartSchedule(ctx, "webhook-sweep", getenv, catalog.WebhookSweep)
}
