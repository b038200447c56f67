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

// horse.created is written only for a tenant with an enabled endpoint subscribed to it (or to "*"): the
// dispatcher would deliver an event nobody subscribed to nowhere. The horse is created either way.
func TestHorseCreateEventOnlyWhenSubscribed(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner) // tenant A has an endpoint subscribed to horse.created
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()
	events := func() int {
		t.Helper()
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = $1 AND tenant_id = $2`,
			postgres.HorseCreatedEvent, w.tenantA).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	endpoints := func(sql string) {
		t.Helper()
		if _, err := db.Owner.Exec(ctx, sql, w.tenantA); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name, endpoints string
		written         bool
	}{
		{"subscribed to horse.created", `SELECT $1::uuid`, true},
		{"subscribed to other events only", `UPDATE webhook_endpoints SET event_types = '{horse.updated,tenant.member_removed}' WHERE tenant_id = $1`, false},
		{"subscribed to every event", `UPDATE webhook_endpoints SET event_types = '{*}' WHERE tenant_id = $1`, true},
		{"endpoint disabled", `UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = 'failing' WHERE tenant_id = $1`, false},
		{"another tenant subscribed, this one has no endpoint", `DELETE FROM webhook_endpoints WHERE tenant_id = $1`, false},
	} {
		endpoints(step.endpoints)
		before := events()
		h, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Comet", Sex: "mare"})
		if err != nil {
			t.Fatalf("%s: Create: %v", step.name, err)
		}
		if _, err := s.Get(ctx, w.principalA, h.ID); err != nil {
			t.Errorf("%s: the horse: %v", step.name, err)
		}
		if got := events() - before; got != map[bool]int{true: 1, false: 0}[step.written] {
			t.Errorf("%s: %d events written", step.name, got)
		}
	}
}
