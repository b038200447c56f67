// Command auth-logout is the auth-logout Lambda: POST /auth/logout.
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
		slog.Error("auth-logout: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "auth-logout", getenv, catalog.AuthLogout,
		platform.WithKeyReferences(keyrefs.Loader),
		platform.WithKMS(sealkms.Provider))
}
