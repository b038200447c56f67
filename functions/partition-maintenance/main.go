// Command partition-maintenance is the partition-maintenance Lambda: the daily creation and dropping of monthly partitions, run as corral_maint.
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
		slog.Error("partition-maintenance: cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	if getenv("DATABASE_MAINTENANCE_URL") == "" {
		return fmt.Errorf("partition-maintenance: %w", maintenance.ErrNoMaintenanceDB)
	}
	return platform.StartSchedule(ctx, "partition-maintenance", getenv, catalog.PartitionMaintenance)
}
