package main

import (
	"context"
	"errors"
	"testing"

	"github.com/rocker-app/corral/shared/maintenance"
)

func TestRunNeedsMaintenanceURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://corral_app@127.0.0.1:5432/corral"}
	err := run(context.Background(), func(k string) string { return env[k] })
	if !errors.Is(err, maintenance.ErrNoMaintenanceDB) {
		t.Fatalf("run without DATABASE_MAINTENANCE_URL: err = %v, want ErrNoMaintenanceDB", err)
	}
}
