// Command horses is the horses Lambda: GET/POST /horses, GET/PATCH/DELETE /horses/{id}.
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
		slog.Error("horses: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "horses", getenv, catalog.Horses,
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore))
}
