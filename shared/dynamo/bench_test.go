package dynamo_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// BenchmarkIdempotency compares the two stores on the path every idempotent request takes: Begin on a
// new key, then Complete, and the replay a retry gets (Begin on a completed key). Both run against the
// local servers (dynalite in memory, PostgreSQL on loopback), anonymous keys so Postgres needs no tenant.
//
//	go test -run '^$' -bench Idempotency -benchtime 2000x ./shared/dynamo/
func BenchmarkIdempotency(b *testing.B) {
	stores := map[string]func(b *testing.B) idempotency.Store{
		"dynamodb": func(b *testing.B) idempotency.Store {
			c := testClient(b)
			return dynamo.NewIdempotencyStore(storeClient(b), newTable(b, c))
		},
		"postgres": func(b *testing.B) idempotency.Store {
			return postgres.NewIdempotencyStore(pgtest.New(b).App)
		},
	}
	for _, name := range []string{"dynamodb", "postgres"} {
		b.Run(name+"/begin+complete", func(b *testing.B) {
			s := stores[name](b)
			ctx := context.Background()
			prefix := uuid.NewString()
			i := 0
			for b.Loop() {
				i++
				k := idempotency.Key{Route: "POST /horses", Key: prefix + strconv.Itoa(i)}
				out, err := s.Begin(ctx, k, []byte("hash"), time.Minute, time.Hour)
				if err != nil || out.Lease == "" {
					b.Fatalf("Begin = %+v, %v", out, err)
				}
				if err := s.Complete(ctx, k, out.Lease, idempotency.Record{Status: 201, Body: []byte(`{"id":1}`)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/replay", func(b *testing.B) {
			s := stores[name](b)
			ctx := context.Background()
			k := idempotency.Key{Route: "POST /horses", Key: uuid.NewString()}
			out, err := s.Begin(ctx, k, []byte("hash"), time.Minute, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Complete(ctx, k, out.Lease, idempotency.Record{Status: 201, Body: []byte(`{"id":1}`)}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if out, err := s.Begin(ctx, k, []byte("hash"), time.Minute, time.Hour); err != nil || out.Completed == nil {
					b.Fatalf("Begin = %+v, %v", out, err)
				}
			}
		})
	}
}
