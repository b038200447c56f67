package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/postgres"
)

func TestOpenIsLazy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens on port 1: Open must still succeed, because it makes no round trip.
	pool, err := postgres.Open(ctx, "postgres://corral_app@127.0.0.1:1/corral?sslmode=disable&connect_timeout=2", 3)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer pool.Close()
	cfg := pool.Config()
	if cfg.MaxConns != 3 || cfg.MinConns != 0 {
		t.Errorf("MaxConns %d MinConns %d, want 3 and 0", cfg.MaxConns, cfg.MinConns)
	}
	if got := pool.Stat().TotalConns(); got != 0 {
		t.Errorf("Open made %d connections, want none", got)
	}
	if err := pool.Ping(ctx); err == nil {
		t.Error("Ping of a closed port succeeded: the test is not testing laziness")
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		url      string
		maxConns int32
	}{
		{"no connections", "postgres://u@127.0.0.1/db", 0},
		{"bad URL", "postgres://u:s3cret@127.0.0.1:notaport/db", 2},
		{"bad option", "postgres://u:s3cret@127.0.0.1/db?pool_max_conns=many", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, err := postgres.Open(context.Background(), tt.url, tt.maxConns)
			if err == nil {
				pool.Close()
				t.Fatal("err = nil")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
