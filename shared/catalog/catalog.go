// Package catalog is the composition root of every function: for each function named in template.yaml it
// builds the route table from the shared dependencies, wiring domain handlers to their Postgres stores and
// choosing each route's rate-limit policy and idempotency mode. functions/<name>/main.go, the local runner
// and the tests all take their handlers from here.
package catalog

import (
	"time"

	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// HTTP returns the HTTP functions by name (the directory name under functions/).
func HTTP() map[string]platform.HTTPFunction {
	return map[string]platform.HTTPFunction{
		"health":            Health,
		"profiles":          Profiles,
		"horses":            Horses,
		"businesses":        Businesses,
		"tenant":            Tenant,
		"entity-lookup":     EntityLookup,
		"webhook-endpoints": WebhookEndpoints,
		"stripe-webhook":    StripeWebhook,
		"auth-keys":         AuthKeys,
		"auth-signup":       AuthSignup,
		"auth-token":        AuthToken,
		"auth-logout":       AuthLogout,
		"auth-mfa":          AuthMFA,
		"queues-admin":      QueuesAdmin,
	}
}

// SQS returns the queue consumers by function name.
func SQS() map[string]platform.SQSFunction {
	return map[string]platform.SQSFunction{
		"webhook-dispatcher": WebhookDispatcher,
		"jobs-worker":        JobsWorker,
	}
}

// Schedules returns the scheduled functions by function name.
func Schedules() map[string]platform.ScheduleFunction {
	return map[string]platform.ScheduleFunction{
		"cleanup":               Cleanup,
		"partition-maintenance": PartitionMaintenance,
		"webhook-sweep":         WebhookSweep,
		"outbox-relay":          OutboxRelay,
	}
}

// Default policies. Reads are generous, writes tighter, anonymous routes counted per client IP. Per-tenant
// overrides come from RATE_LIMIT_OVERRIDES by policy name.
func readPolicy(family string) ratelimit.Policy {
	return ratelimit.Policy{Name: family + ".read", Rate: 300, Period: time.Minute, Burst: 60, Scope: ratelimit.ScopeUser}
}

func writePolicy(family string) ratelimit.Policy {
	return ratelimit.Policy{Name: family + ".write", Rate: 60, Period: time.Minute, Burst: 20, Scope: ratelimit.ScopeUser}
}

func searchPolicy(family string) ratelimit.Policy {
	return ratelimit.Policy{Name: family + ".search", Rate: 120, Period: time.Minute, Burst: 30, Scope: ratelimit.ScopeUser}
}
