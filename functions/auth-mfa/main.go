// Command auth-mfa is the auth-mfa Lambda: GET /auth/mfa, POST and DELETE /auth/mfa/totp, POST /auth/mfa/totp/verify, POST /auth/mfa/recovery-codes.
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
		slog.Error("auth-mfa: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "auth-mfa", getenv, catalog.AuthMFA,
		platform.WithKeyReferences(keyrefs.Loader),
		platform.WithKMS(sealkms.Provider))
}
