package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/webhook"
)

// BenchmarkSignatureHeader signs a 1 KiB body with two secrets, as during a rotation overlap.
func BenchmarkSignatureHeader(b *testing.B) {
	secrets := []string{webhook.NewSecret(), webhook.NewSecret()}
	body := bytes.Repeat([]byte("x"), 1024)
	now := time.Now()
	for b.Loop() {
		if _, err := webhook.SignatureHeader(secrets, "msg_1", now, body); err != nil {
			b.Fatal(err)
		}
	}
}

// held keeps jobs instead of queueing them, so the benchmark measures the database and HTTP work only.
type held struct{ jobs []webhook.Job }

func (h *held) Enqueue(_ context.Context, jobs ...webhook.Job) error {
	h.jobs = append(h.jobs, jobs...)
	return nil
}

// BenchmarkFanOutAndDeliver is one event fanned out to one endpoint and delivered on the first attempt
// to a loopback receiver: the fan-out insert, the claim transaction, the signed POST and the record
// transaction, against the real PostgreSQL.
//
//	go test -run '^$' -bench FanOutAndDeliver -benchtime 500x ./shared/webhook/
func BenchmarkFanOutAndDeliver(b *testing.B) {
	db := pgtest.New(b)
	store := postgres.NewWebhookStore(db.App, nil)
	q := &held{}
	d := webhook.NewDispatcher(store, q, webhook.NewGuard([]string{"127.0.0.1"}), slog.New(slog.DiscardHandler), webhook.Options{})
	rc := newReceiver(b, func(int) int { return http.StatusNoContent })
	ctx := context.Background()
	var tenant, owner string
	if err := db.Owner.QueryRow(ctx, `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ('bench', 'bench') RETURNING id),
     u AS (INSERT INTO users (email) VALUES ('bench@bench.test') RETURNING id),
     m AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT t.id, u.id, 'owner' FROM t, u)
SELECT t.id::text, u.id::text FROM t, u`).Scan(&tenant, &owner); err != nil {
		b.Fatal(err)
	}
	r := &rig{store: store, tenant: tenant}
	r.owner.TenantID, r.owner.UserID, r.owner.Roles = tenant, owner, []string{"owner"}
	r.endpoint(b, rc.srv.URL, "horse.created")

	for b.Loop() {
		q.jobs = q.jobs[:0]
		ev := webhook.Event{ID: uuid.NewString(), TenantID: tenant, Type: "horse.created", Payload: []byte(`{"name":"Comet"}`)}
		if _, err := d.FanOut(ctx, ev); err != nil || len(q.jobs) != 1 {
			b.Fatalf("fan out: %v, %d jobs", err, len(q.jobs))
		}
		if err := d.Handle(ctx, q.jobs[0].Body()); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(rc.requests()); n < b.N {
		b.Fatalf("receiver got %d requests for %d events", n, b.N)
	}
}
