// Command entity-lookup is the entity-lookup Lambda: GET /entities/search.
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
		slog.Error("entity-lookup: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "entity-lookup", getenv, catalog.EntityLookup)
}
