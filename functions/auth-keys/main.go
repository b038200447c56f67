// Command auth-keys is the JWKS Lambda: GET /.well-known/jwks.json.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/auth/keyrefs"
	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("auth-keys: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "auth-keys", getenv, catalog.AuthKeys,
		platform.WithKeyReferences(keyrefs.Loader))
}
