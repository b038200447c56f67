package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/sqsx"
)

// errNoMaintenanceDB is returned by every outbox-relay run when DATABASE_MAINTENANCE_URL is not set.
var errNoMaintenanceDB = errors.New("DATABASE_MAINTENANCE_URL is not set: the relay reads every tenant's outbox as corral_maint")

// OutboxRelay is the outbox relay (Schedule rate(1 minute)): it publishes every pending, due outbox row
// of every tenant to its queue, oldest first, in FOR UPDATE SKIP LOCKED batches, as corral_maint
// (Deps.Maintenance). A run stops at the first failed send (the rows stay pending for the next run) and
// returns that error.
func OutboxRelay(d *platform.Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	if d.Maintenance == nil {
		return func(context.Context, events.EventBridgeEvent) error {
			return fmt.Errorf("outbox-relay: %w", errNoMaintenanceDB)
		}
	}
	r := outbox.NewRelay(d.Maintenance, sqsx.NewPublisher(d.SQS, d.Config.Queues), d.Log, outbox.RelayOptions{})
	return func(ctx context.Context, _ events.EventBridgeEvent) error {
		if _, err := r.Run(ctx); err != nil {
			return fmt.Errorf("outbox-relay: %w", err)
		}
		return nil
	}
}
