// Command webhook-dispatcher is the webhooks queue's consumer: each message is one signed delivery attempt
// to a tenant's endpoint, or an event to fan out to its endpoints.
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
		slog.Error("webhook-dispatcher: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartSQS(ctx, "webhook-dispatcher", getenv, catalog.WebhookDispatcher)
}
