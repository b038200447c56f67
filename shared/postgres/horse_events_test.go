package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// A created horse and its horse.created outbox entry commit together; a refused create leaves neither.
func TestHorseCreateEmitsEventInTheSameTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App) // publishing after the commit is tested end to end in shared/catalog
	ctx := context.Background()

	h, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Comet", Sex: "mare"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	var (
		id, tenant, kind, queue string
		payload                 []byte
	)
	err = db.Owner.QueryRow(ctx, `SELECT id::text, tenant_id::text, kind, queue, payload FROM outbox WHERE kind = $1`,
		postgres.HorseCreatedEvent).Scan(&id, &tenant, &kind, &queue, &payload)
	if err != nil {
		t.Fatalf("outbox entry: %v", err)
	}
	var body struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(payload, &body); err != nil || body.ID != h.ID || body.Name != "Comet" {
		t.Fatalf("payload %s (%v), want the created horse %s", payload, err, h.ID)
	}
	if tenant != w.principalA.TenantID || queue != "webhooks" {
		t.Fatalf("entry tenant %s queue %s", tenant, queue)
	}

	// An owner from another tenant is refused: no horse, no event, nothing published.
	_, err = s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Ghost", Sex: "mare", OwnerUserID: addr(w.userB)})
	if !errors.Is(err, horse.ErrOwnerUserNotMember) {
		t.Fatalf("foreign owner: %v", err)
	}
	var n int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = $1`, postgres.HorseCreatedEvent).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("after a refused create: %d outbox entries, want 1 (the first create's)", n)
	}
}
