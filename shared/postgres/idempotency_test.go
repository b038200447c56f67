package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/idempotency/storetest"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestIdempotencyStore(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	storetest.Run(t, func(t *testing.T) (idempotency.Store, func(bool) idempotency.Key) {
		newKey := func(anonymous bool) idempotency.Key {
			k := idempotency.Key{Route: "POST /horses", Key: randomKey(t)}
			if anonymous {
				return k
			}
			if err := db.Owner.QueryRow(context.Background(),
				`INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+k.Key).Scan(&k.TenantID); err != nil {
				t.Fatal(err)
			}
			k.UserID = "a0000000-0000-4000-8000-000000000001"
			return k
		}
		return postgres.NewIdempotencyStore(db.App), newKey
	})
}

func randomKey(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
