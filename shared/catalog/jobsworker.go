package catalog

import (
	"github.com/rocker-app/corral/shared/jobs"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/notification"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/sqsx"
	"github.com/rocker-app/corral/shared/webhook"
)

// JobsWorker consumes the jobs queue (SQS, JobsQueue): each message is one job, dispatched by kind
// through the registry of JobTypes, run in its tenant's transaction with a dedupe record, and retried
// with backoff (sqsx.Consumer) until the queue's dead-letter queue takes it.
func JobsWorker(d *platform.Deps) lambdax.MessageHandler {
	w := jobs.NewWorker(d.DB, JobTypes(d), d.Log)
	return sqsx.Consumer(d.SQS, d.Log, jobs.Consumer, w.Handle, sqsx.Options{Queues: d.Config.Queues})
}

// JobTypes is the registry of every job type the jobs-worker runs. Add a job type here, with the handler
// its domain package provides.
func JobTypes(d *platform.Deps) *jobs.Registry {
	r := jobs.NewRegistry()
	jobs.Register(r, notification.JobKind, notification.CreateJob(postgres.NotificationStore{}))
	jobs.Register(r, jobs.CleanupKind, jobs.CleanupJob(postgres.HandoffStore{}))
	jobs.Register(r, webhook.FanOutKind, WebhookFanOutJob(d))
	return r
}
