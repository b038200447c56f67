// Command auth-token is the auth-token Lambda: POST /auth/token, GET /auth/csrf, POST /auth/switch-tenant.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/auth/keyrefs"
	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/seal/sealkms"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("auth-token: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "auth-token", getenv, catalog.AuthToken,
		platform.WithKeyReferences(keyrefs.Loader),
		platform.WithKMS(sealkms.Provider))
}
