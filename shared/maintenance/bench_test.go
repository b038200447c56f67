package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/maintenance"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// BenchmarkCleanupIdempotencyKeys measures rows deleted per second by the idempotency-keys step (batches
// of DefaultBatchSize, as corral_maint): each iteration arranges 10,000 expired keys, off the clock, and
// deletes them.
func BenchmarkCleanupIdempotencyKeys(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	const rows = 10_000
	c := maintenance.NewCleanup(db.Maint, testLog(b), maintenance.Options{}, maintenance.CleanupSteps(maintenance.Options{})[:1])
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := db.Owner.Exec(ctx, `
INSERT INTO idempotency_keys (route, key, request_hash, expires_at, scope)
SELECT 'POST /x', 'k' || g, '\x00', now() - interval '1 hour', idempotency_scope(NULL, '', 'POST /x', 'k' || g)
FROM generate_series(1, $1) g`, rows); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rs, err := c.Run(ctx)
		elapsed += time.Since(start)
		if err != nil || rs[0].Rows != rows {
			b.Fatalf("Run: %+v, %v; want %d rows deleted", rs, err, rows)
		}
	}
	b.ReportMetric(float64(b.N*rows)/elapsed.Seconds(), "rows/s")
}
