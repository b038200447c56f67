package lambdax

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// MessageHandler handles one SQS message. A nil error deletes the message; an error leaves it for SQS to
// redeliver after its visibility timeout and, after maxReceiveCount receives, to move to the dead-letter queue.
type MessageHandler func(ctx context.Context, msg events.SQSMessage) error

// SQSFunc is the Lambda handler of a queue consumer.
type SQSFunc func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Then returns f followed by after, as HTTPFunc.Then does.
func (f SQSFunc) Then(after func(context.Context)) SQSFunc {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		defer after(ctx)
		return f(ctx, ev)
	}
}

// SQS handles a batch one message at a time and reports each failure in BatchItemFailures, so only the
// failed messages return to the queue (the event source mapping must enable ReportBatchItemFailures). When
// ctx ends mid-batch, the messages not yet handled are reported as failed rather than dropped.
func SQS(log *slog.Logger, h MessageHandler) SQSFunc {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for i, msg := range ev.Records {
			if ctx.Err() != nil {
				for _, rest := range ev.Records[i:] {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
				}
				break
			}
			if err := h(ctx, msg); err != nil {
				log.LogAttrs(ctx, slog.LevelWarn, "message failed", slog.String("message_id", msg.MessageId),
					slog.String("receive_count", msg.Attributes["ApproximateReceiveCount"]), slog.Any("error", err))
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			}
		}
		return resp, nil
	}
}

// ScheduleFunc is the Lambda handler of a scheduled function.
type ScheduleFunc func(context.Context, events.EventBridgeEvent) error

// Then returns f followed by after, as HTTPFunc.Then does.
func (f ScheduleFunc) Then(after func(context.Context)) ScheduleFunc {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		defer after(ctx)
		return f(ctx, ev)
	}
}

// Schedule adapts a job that runs on an EventBridge schedule. The event's time is passed on as the run's
// nominal time.
func Schedule(run func(ctx context.Context, ev events.EventBridgeEvent) error) ScheduleFunc {
	return run
}
