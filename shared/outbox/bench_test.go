package outbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/outbox"
)

// Relay throughput against the SQS server at SQS_ENDPOINT (fauxqs under make test): each iteration
// inserts batch pending rows (timer stopped), then one PublishPending claims, sends (SendMessageBatch, 10
// per call) and marks them in one transaction as corral_maint. rows/s is rows published per second of
// relay time.
//
//	go test -run '^$' -bench Relay -benchtime 30x ./shared/outbox/
func BenchmarkRelay(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	for _, batch := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			relay := outbox.NewRelay(f.db.Maint, f.pub, discard(), outbox.RelayOptions{Batch: batch})
			rows := 0
			for b.Loop() {
				b.StopTimer()
				if _, err := f.db.Owner.Exec(ctx, `
INSERT INTO outbox (tenant_id, queue, kind, payload)
SELECT $1, 'jobs', 'bench.kind', jsonb_build_object('i', i, 'horse_id', gen_random_uuid(), 'note', repeat('x', 120))
FROM generate_series(1, $2) i`, f.tenantA, batch); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				n, err := relay.PublishPending(ctx, batch)
				if err != nil || n != batch {
					b.Fatalf("PublishPending = %d, %v", n, err)
				}
				rows += n
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// The writer's path: one transaction adds an entry and commits, then PublishNow sends it and marks it.
//
//	go test -run '^$' -bench PublishNow -benchtime 200x ./shared/outbox/
func BenchmarkAddCommitPublishNow(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	ob := outbox.New(f.db.App, f.pub, discard(), outbox.Options{})
	p := auth.Principal{TenantID: f.tenantA}
	for b.Loop() {
		id := uuid.NewString()
		err := f.db.App.InTx(ctx, p, func(tx pgx.Tx) error {
			return outbox.Add(ctx, tx, outbox.Entry{ID: id, Queue: "jobs", Kind: "bench.kind", TenantID: f.tenantA, Payload: map[string]string{"horse_id": id}})
		})
		if err != nil {
			b.Fatal(err)
		}
		if n, err := ob.PublishNow(ctx, f.tenantA, id); n != 1 || err != nil {
			b.Fatalf("PublishNow = %d, %v", n, err)
		}
	}
}
