package catalog

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/platform"
)

// PartitionMaintenance is the daily partition maintenance (Schedule rate(1 day)): partitions of the
// current month and the next three for every time-partitioned table, and dropping those whose month is
// past retention (AUDIT_RETENTION for audit_events), as corral_maint (Deps.Maintenance). Without
// DATABASE_MAINTENANCE_URL every run fails with maintenance.ErrNoMaintenanceDB; the function refuses to
// start instead. A run's error joins the tables that failed; the others have been maintained.
func PartitionMaintenance(d *platform.Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	o := maintenance.Options{AuditRetention: d.Config.AuditRetention}
	p := maintenance.NewPartitions(d.Maintenance, d.Log, o, maintenance.PartitionedTables(o))
	return func(ctx context.Context, _ events.EventBridgeEvent) error {
		if _, err := p.Run(ctx); err != nil {
			return fmt.Errorf("partition-maintenance: %w", err)
		}
		return nil
	}
}
