package sqsx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/sqsx"
)

// BenchmarkConsumer measures messages per second through the whole path against the SQS server: publish
// 100 messages (10 SendMessageBatch calls), then receive them in batches of 10, run each through
// lambdax.SQS and the Consumer, and delete the batch, as the event source mapping does. "noop" handles
// nothing; "once" records each message with Once in its own Postgres transaction.
func BenchmarkConsumer(b *testing.B) {
	const perRound = 100
	c := newClient(b)
	db, tenant := newEffectsDB(b)
	handlers := map[string]func(ctx context.Context, d sqsx.Delivery) error{
		"noop": func(context.Context, sqsx.Delivery) error { return nil },
		"once": func(ctx context.Context, d sqsx.Delivery) error { return handle(ctx, db, tenant, d, nil) },
	}
	for _, name := range []string{"noop", "once"} {
		b.Run(name, func(b *testing.B) {
			q, _ := newQueue(b, c, queueSpec{})
			pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
			handled := 0
			fn := lambdax.SQS(discard(), sqsx.Consumer(c, discard(), "bench", func(ctx context.Context, d sqsx.Delivery) error {
				handled++
				return handlers[name](ctx, d)
			}, sqsx.Options{}))
			msgs := make([]sqsx.Message, perRound)
			round := 0
			total := 0
			for b.Loop() {
				round++
				for i := range msgs {
					msgs[i] = sqsx.Message{ID: fmt.Sprintf("r%d-%d", round, i), Body: []byte(`{"kind":"bench"}`)}
				}
				if err := pub.Send(context.Background(), "jobs", msgs...); err != nil {
					b.Fatal(err)
				}
				for handled < total+perRound {
					if _, failed := deliver(b, c, q, fn, time.Second); len(failed) > 0 {
						b.Fatalf("failures: %v", failed)
					}
				}
				total += perRound
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
