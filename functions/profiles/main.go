// Command profiles is the profiles Lambda: GET/PATCH /me, GET /profiles/{id}.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/seal/sealkms"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("profiles: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "profiles", getenv, catalog.Profiles,
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore),
		platform.WithKMS(sealkms.Provider))
}
