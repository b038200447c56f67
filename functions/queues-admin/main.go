// Command queues-admin is the platform operators' queue Lambda: GET /admin/queues (depths of every queue
// and its dead-letter queue) and POST /admin/queues/{name}/redrive.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/platform"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("queues-admin: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "queues-admin", getenv, catalog.QueuesAdmin,
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore))
}
