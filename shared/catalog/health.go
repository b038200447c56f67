package catalog

import (
	"context"

	"time"

	"github.com/rocker-app/corral/shared/health"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Health serves GET /health: public, limited per client IP.
func Health(d *platform.Deps) []platform.Route {
	h := health.Handler(map[string]health.Check{
		"postgres": d.DB.Ping,
		"redis":    func(ctx context.Context) error { return d.Redis.Ping(ctx).Err() },
	}, 2*time.Second)
	return []platform.Route{{
		Pattern: "GET /health",
		Handler: h,
		Public:  true,
		Policy:  ratelimit.Policy{Name: "health", Rate: 120, Period: time.Minute, Burst: 30, Scope: ratelimit.ScopeIP},
	}}
}
