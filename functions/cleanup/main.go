// Command cleanup is the cleanup Lambda: the hourly cleanup of expired rows across tenants, run as corral_maint.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/platform"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		slog.Error("cleanup: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("DATABASE_MAINTENANCE_URL") == "" {
		return fmt.Errorf("cleanup: %w", maintenance.ErrNoMaintenanceDB)
	}
	return platform.StartSchedule(ctx, "cleanup", getenv, catalog.Cleanup)
}
