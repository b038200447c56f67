// Command businesses is the businesses Lambda: GET/POST /businesses, GET/PATCH/DELETE /businesses/{id} and their members.
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
		slog.Error("businesses: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "businesses", getenv, catalog.Businesses,
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore))
}
