package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/queueadmin"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/sqsx"
)

// QueuesAdmin serves the platform operators' queue routes: GET /admin/queues and
// POST /admin/queues/{name}/redrive, over the queues the function has URLs for (QUEUE_URL_<NAME>).
// Both require the platform_admin role (queueadmin.RolePlatformAdmin); a redrive requires an
// Idempotency-Key, so a retried request does not move a second batch.
func QueuesAdmin(d *platform.Deps) []platform.Route {
	var names []string
	for _, n := range config.QueueNames() {
		if d.Config.Queues[n] != "" {
			names = append(names, n)
		}
	}
	q := sqsQueues{sqsx.NewQueues(d.SQS, d.Config.Queues)}
	return []platform.Route{
		{Pattern: "GET /admin/queues", Handler: queueadmin.List(q, names, d.Audit), Policy: adminReadPolicy("queues")},
		{Pattern: "POST /admin/queues/{name}/redrive", Handler: queueadmin.Redrive(q, names, d.Audit), Policy: adminWritePolicy("queues"),
			Idempotency: platform.IdempotencyRequired},
	}
}

// Admin policies are tight: a handful of calls a minute per operator. A redrive moves up to a thousand
// messages per call, so even its burst is small.
func adminReadPolicy(family string) ratelimit.Policy {
	return ratelimit.Policy{Name: "admin." + family + ".read", Rate: 30, Period: time.Minute, Burst: 10, Scope: ratelimit.ScopeUser}
}

func adminWritePolicy(family string) ratelimit.Policy {
	return ratelimit.Policy{Name: "admin." + family + ".write", Rate: 10, Period: time.Minute, Burst: 5, Scope: ratelimit.ScopeUser}
}

// sqsQueues adapts sqsx.Queues to queueadmin.Queues.
type sqsQueues struct{ q *sqsx.Queues }

func (s sqsQueues) Depths(ctx context.Context, names []string) ([]queueadmin.Depth, error) {
	ds, err := s.q.Depths(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make([]queueadmin.Depth, len(ds))
	for i, d := range ds {
		out[i] = adminDepth(d)
	}
	return out, nil
}

func adminDepth(d sqsx.Depth) queueadmin.Depth {
	a := queueadmin.Depth{Queue: d.Name, Visible: d.Visible, InFlight: d.InFlight, Delayed: d.Delayed, MaxReceiveCount: d.MaxReceiveCount}
	if d.DeadLetter != nil {
		dl := adminDepth(*d.DeadLetter)
		a.DeadLetter = &dl
	}
	return a
}

func (s sqsQueues) Redrive(ctx context.Context, name string, limit int) (int, error) {
	n, err := s.q.Redrive(ctx, name, limit)
	if errors.Is(err, sqsx.ErrNoDeadLetterQueue) {
		err = errors.Join(queueadmin.ErrNoDeadLetterQueue, err)
	}
	return n, err
}
