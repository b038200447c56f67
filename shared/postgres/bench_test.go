package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// BenchmarkOneRead compares the two ways to run one read as corral_app: InTx (BEGIN, set_config, query,
// COMMIT: four round trips) against the pipelined QueryRow (set_config and query in one batch: one round
// trip). Run with: go test -run '^$' -bench OneRead ./shared/postgres
func BenchmarkOneRead(b *testing.B) {
	db := pgtest.New(b)
	w := arrange(b, db.Owner)
	ctx := context.Background()
	const q = `SELECT id::text, name FROM horses ORDER BY created_at DESC, id DESC LIMIT 1`

	b.Run("InTx", func(b *testing.B) {
		var id, name string
		for b.Loop() {
			err := db.App.InTx(ctx, w.principalA, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, q).Scan(&id, &name)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadTx", func(b *testing.B) {
		var id, name string
		for b.Loop() {
			err := db.App.ReadTx(ctx, w.principalA, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, q).Scan(&id, &name)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("QueryRow", func(b *testing.B) {
		var id, name string
		for b.Loop() {
			if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, q, nil, &id, &name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
