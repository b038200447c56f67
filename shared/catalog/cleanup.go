package catalog

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/platform"
)

// Cleanup is the hourly cleanup (Schedule rate(1 hour)): expired idempotency keys, audit rows past
// AUDIT_RETENTION, published outbox rows, SQS dedupe records and expired sessions, deleted across tenants
// as corral_maint (Deps.Maintenance). Without DATABASE_MAINTENANCE_URL every run fails with
// maintenance.ErrNoMaintenanceDB; functions/cleanup refuses to start instead. A run's error joins the
// failed steps; the other steps have run.
func Cleanup(d *platform.Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	o := maintenance.Options{AuditRetention: d.Config.AuditRetention}
	c := maintenance.NewCleanup(d.Maintenance, d.Log, o, maintenance.CleanupSteps(o))
	return func(ctx context.Context, _ events.EventBridgeEvent) error {
		if _, err := c.Run(ctx); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		return nil
	}
}
