package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform/platformtest"
)

// Without DATABASE_MAINTENANCE_URL every relay run fails, naming the variable.
func TestOutboxRelayNeedsTheMaintenanceDatabase(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t, func(c *config.Config) { c.DatabaseMaintenanceURL = "" })
	err := catalog.OutboxRelay(env.Deps)(context.Background(), events.EventBridgeEvent{})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_MAINTENANCE_URL") {
		t.Fatalf("run = %v, want an error naming DATABASE_MAINTENANCE_URL", err)
	}
}
