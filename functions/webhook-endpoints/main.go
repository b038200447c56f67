// Command webhook-endpoints is the webhook-endpoints Lambda: GET/POST /webhooks/endpoints,
// DELETE /webhooks/endpoints/{id}, POST /webhooks/endpoints/{id}/rotate-secret,
// GET /webhooks/endpoints/{id}/deliveries and POST /webhooks/deliveries/{id}/retry.
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
		slog.Error("webhook-endpoints: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "webhook-endpoints", getenv, catalog.WebhookEndpoints)
}
