// Command tenant is the tenant Lambda: GET/PATCH /tenant, its members (GET /tenant/members,
// PATCH/DELETE /tenant/members/{user_id}) and its invites (GET/POST /tenant/invites, DELETE /tenant/invites/{id}).
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
		slog.Error("tenant: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	return platform.StartHTTP(ctx, "tenant", getenv, catalog.Tenant,
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore))
}
