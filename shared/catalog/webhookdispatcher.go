package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/jobs"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/sqsx"
	"github.com/rocker-app/corral/shared/webhook"
)

// webhooksQueue is the queue of webhook attempts and events (config.Config.Queues["webhooks"]).
const webhooksQueue = "webhooks"

// webhookSweepBatch bounds the deliveries one sweep run queues; a backlog drains over successive runs.
const webhookSweepBatch = 500

// WebhookDispatcher consumes the webhooks queue (SQS, WebhooksQueue): each message is one delivery attempt
// (signed, to a public address, a 2xx within 15 s counting as success, failures retried on
// webhook.DefaultSchedule) or an event to fan out. A malformed message fails permanently (to the
// dead-letter queue); a database failure is retried with backoff by sqsx.Consumer.
func WebhookDispatcher(d *platform.Deps) lambdax.MessageHandler {
	return webhookConsumer(d, newWebhookDispatcher(d, webhook.Options{}))
}

// WebhookSweep is the webhook-sweep schedule (rate(1 minute)): it queues the attempts whose wait was too
// long for a queue delay (over 15 minutes) once they are due, and any attempt whose message or outcome
// was lost, across tenants, as corral_maint (Deps.Maintenance).
func WebhookSweep(d *platform.Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	disp := newWebhookDispatcher(d, webhook.Options{})
	return func(ctx context.Context, _ events.EventBridgeEvent) error {
		n, err := disp.SweepDue(ctx, webhookSweepBatch)
		if err != nil {
			return fmt.Errorf("webhook-sweep: %w", err)
		}
		d.Log.LogAttrs(ctx, slog.LevelInfo, "webhook-sweep: attempts queued", slog.Int("queued", n))
		return nil
	}
}

// WebhookFanOutJob is the handler of the job kind webhook.FanOutKind: it fans the event out in the job's
// tenant, the job's id standing for the event id when the payload has none. The deliveries are written in
// their own transaction, so their first attempts can be queued at once; a redelivered job adds nothing
// (one delivery per endpoint and event).
func WebhookFanOutJob(d *platform.Deps) jobs.Handler[webhook.FanOutJob] {
	disp := newWebhookDispatcher(d, webhook.Options{})
	return func(ctx context.Context, jc jobs.JobContext, f webhook.FanOutJob) error {
		if jc.TenantID == "" {
			return jobs.Permanent(errors.New("webhook.fanout: the job has no tenant"))
		}
		id := f.EventID
		if id == "" {
			id = jc.ID
		}
		_, err := disp.FanOut(ctx, webhook.Event{ID: id, TenantID: jc.TenantID, Type: f.Type, Payload: f.Payload})
		if errors.Is(err, webhook.ErrMalformed) {
			return jobs.Permanent(err)
		}
		return err
	}
}

func newWebhookDispatcher(d *platform.Deps, o webhook.Options) *webhook.Dispatcher {
	store := postgres.NewWebhookStore(d.DB, d.Maintenance)
	return webhook.NewDispatcher(store, webhookQueue(d), webhook.NewGuard(d.Config.WebhookAllowedHosts), d.Log, o)
}

func webhookConsumer(d *platform.Deps, disp *webhook.Dispatcher) lambdax.MessageHandler {
	h := func(ctx context.Context, m sqsx.Delivery) error {
		err := disp.Handle(ctx, m.Body)
		if errors.Is(err, webhook.ErrMalformed) {
			return sqsx.Permanent(err)
		}
		return err
	}
	return sqsx.Consumer(d.SQS, d.Log, "webhook-dispatcher", h, sqsx.Options{Queues: d.Config.Queues})
}

// sqsWebhookQueue sends webhook jobs to the webhooks queue.
type sqsWebhookQueue struct {
	p *sqsx.Publisher
}

var _ webhook.Enqueuer = sqsWebhookQueue{}

func webhookQueue(d *platform.Deps) sqsWebhookQueue {
	return sqsWebhookQueue{p: sqsx.NewPublisher(d.SQS, d.Config.Queues)}
}

// Enqueue implements webhook.Enqueuer; its errors are sqsx.Publisher.Send's.
func (q sqsWebhookQueue) Enqueue(ctx context.Context, js ...webhook.Job) error {
	msgs := make([]sqsx.Message, len(js))
	for i, j := range js {
		msgs[i] = sqsx.Message{ID: j.MessageID(), Body: j.Body(), Delay: j.Delay}
	}
	return q.p.Send(ctx, webhooksQueue, msgs...)
}
