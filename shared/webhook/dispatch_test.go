package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/webhook"
)

// statuses returns the status code of each attempt of d (0 for none).
func statuses(d webhook.Delivery) []int {
	var out []int
	for _, a := range d.Attempts {
		code := 0
		if a.StatusCode != nil {
			code = *a.StatusCode
		}
		out = append(out, code)
	}
	return out
}

func TestDeliveryRetriedUntilTheReceiverAccepts(t *testing.T) {
	t.Parallel()
	const k = 3
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, failFirst(k))
	e, secret := r.endpoint(t, rc.srv.URL+"/hooks", "horse.created")
	other, _ := r.endpoint(t, rc.srv.URL+"/other", "horse.deleted")

	ev := r.event(t, "horse.created", `{"id":"h1","name":"Comet"}`)
	n, err := r.disp.FanOut(context.Background(), ev)
	if err != nil || n != 1 {
		t.Fatalf("FanOut = %d, %v; want 1 delivery (one endpoint subscribed)", n, err)
	}
	if again, err := r.disp.FanOut(context.Background(), ev); err != nil || again != 0 {
		t.Errorf("FanOut of the same event again = %d, %v; want 0", again, err)
	}
	r.run(t, func() bool { return len(rc.requests()) >= k+1 })

	reqs := rc.requests()
	if len(reqs) != k+1 {
		t.Fatalf("receiver got %d requests, want %d", len(reqs), k+1)
	}
	last := reqs[k]
	if err := verify(secret, last.Header, last.Body, time.Now()); err != nil {
		t.Errorf("the receiver cannot verify the accepted delivery: %v", err)
	}
	for i, req := range reqs {
		if req.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") {
			t.Errorf("attempt %d has webhook-id %q, attempt 1 %q: the id must stay the same", i+1, req.Header.Get("webhook-id"), reqs[0].Header.Get("webhook-id"))
		}
	}
	var body struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(last.Body, &body); err != nil || body.Type != "horse.created" || string(body.Data) != `{"id":"h1","name":"Comet"}` {
		t.Errorf("body = %s (err %v), want the event type and its data", last.Body, err)
	}

	ds := r.deliveries(t, e.ID)
	if len(ds) != 1 {
		t.Fatalf("endpoint has %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Status != webhook.StatusSucceeded || d.Attempt != k+1 || d.DeliveredAt == nil || d.NextAttemptAt != nil {
		t.Errorf("delivery = status %s, attempt %d, delivered %v, next %v; want succeeded on attempt %d", d.Status, d.Attempt, d.DeliveredAt, d.NextAttemptAt, k+1)
	}
	if diff := cmp.Diff([]int{500, 500, 500, 204}, statuses(d)); diff != "" {
		t.Errorf("attempt log (-want +got):\n%s", diff)
	}
	if d.ID != reqs[0].Header.Get("webhook-id") {
		t.Errorf("webhook-id %q is not the delivery id %s", reqs[0].Header.Get("webhook-id"), d.ID)
	}
	if got := r.deliveries(t, other.ID); len(got) != 0 {
		t.Errorf("an endpoint not subscribed to the type got %d deliveries", len(got))
	}
}

func TestGoneDisablesTheEndpointAndNotifies(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, func(int) int { return http.StatusGone })
	e, _ := r.endpoint(t, rc.srv.URL, "*")
	ctx := context.Background()

	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { ds := r.deliveries(t, e.ID); return len(ds) == 1 && ds[0].Status == webhook.StatusDead })
	if n := len(rc.requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1 (410 is final)", n)
	}
	page, err := r.store.ListEndpoints(ctx, r.owner, webhook.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := page.Endpoints[0]
	if got.DisabledAt == nil || got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "410") {
		t.Errorf("endpoint after 410: disabled_at %v, reason %v; want disabled for 410", got.DisabledAt, got.DisabledReason)
	}
	var notified int
	if err := r.db.Owner.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE tenant_id = $1 AND user_id = $2 AND kind = 'webhook.endpoint_disabled'`,
		r.tenant, r.owner.UserID).Scan(&notified); err != nil {
		t.Fatal(err)
	}
	if notified != 1 {
		t.Errorf("owner has %d endpoint-disabled notifications, want 1", notified)
	}
	if n, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil || n != 0 {
		t.Errorf("FanOut to a disabled endpoint = %d, %v; want 0", n, err)
	}
}

func TestEndpointFailingForFiveDaysIsDisabled(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	e, _ := r.endpoint(t, rc.srv.URL, "horse.created")
	ctx := context.Background()
	if _, err := r.db.Owner.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - interval '4 days 23 hours' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool {
		ds := r.deliveries(t, e.ID)
		return len(ds) == 1 && ds[0].Attempt >= 1 && ds[0].Status != webhook.StatusPending
	})
	page, _ := r.store.ListEndpoints(ctx, r.owner, webhook.Query{Limit: 10})
	for _, got := range page.Endpoints {
		if got.DisabledAt != nil {
			t.Fatalf("endpoint %s disabled after failing for less than 5 days", got.ID)
		}
	}

	if _, err := r.db.Owner.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	// Another delivery waits for a long retry: disabling the endpoint must end it too.
	var waiting string
	if err := r.db.Owner.QueryRow(ctx, `
INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, attempt, status, next_attempt_at, created_at)
VALUES ($1, $2, gen_random_uuid(), 'horse.created', '{}', 4, 'failed', now() + interval '5 hours', now() - interval '1 day')
RETURNING id`, r.tenant, e.ID).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { ds := r.deliveries(t, e.ID); return ds[0].Status == webhook.StatusDead })
	if ds := r.deliveries(t, e.ID); ds[1].ID != waiting || ds[1].Status != webhook.StatusDead || ds[1].NextAttemptAt != nil {
		t.Errorf("the waiting delivery after the endpoint was disabled: %+v, want dead with no next attempt", ds[1])
	}
	page, _ = r.store.ListEndpoints(ctx, r.owner, webhook.Query{Limit: 10})
	var disabled *webhook.Endpoint
	for i := range page.Endpoints {
		if page.Endpoints[i].ID == e.ID {
			disabled = &page.Endpoints[i]
		}
	}
	if disabled == nil || disabled.DisabledAt == nil || !strings.Contains(*disabled.DisabledReason, "failed since") {
		t.Fatalf("endpoint failing for 5 days: %+v, want disabled", disabled)
	}
	var notified int
	if err := r.db.Owner.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE tenant_id = $1 AND kind = 'webhook.endpoint_disabled' AND data->>'endpoint_id' = $2`,
		r.tenant, e.ID).Scan(&notified); err != nil {
		t.Fatal(err)
	}
	if notified != 1 {
		t.Errorf("%d notifications for the disabled endpoint, want 1", notified)
	}
}

func TestRotationSignsWithBothSecretsDuringTheOverlap(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, func(int) int { return http.StatusOK })
	e, oldSecret := r.endpoint(t, rc.srv.URL, "horse.created")
	ctx := context.Background()
	newSecret := webhook.NewSecret()
	rotated, err := r.store.RotateSecret(ctx, r.owner, e.ID, newSecret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.PreviousSecretExpiresAt == nil || time.Until(*rotated.PreviousSecretExpiresAt) < 59*time.Minute {
		t.Errorf("previous secret expires at %v, want about an hour from now", rotated.PreviousSecretExpiresAt)
	}

	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return len(rc.requests()) == 1 })
	req := rc.requests()[0]
	if n := len(strings.Fields(req.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d signatures during the overlap, want 2", n)
	}
	for name, s := range map[string]string{"old": oldSecret, "new": newSecret} {
		if err := verify(s, req.Header, req.Body, time.Now()); err != nil {
			t.Errorf("receiver holding the %s secret: %v", name, err)
		}
	}

	// After the overlap only the new secret signs.
	if _, err := r.db.Owner.Exec(ctx, `UPDATE webhook_endpoints SET previous_expires_at = now() - interval '1 second' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return len(rc.requests()) == 2 })
	req = rc.requests()[1]
	if n := len(strings.Fields(req.Header.Get("webhook-signature"))); n != 1 {
		t.Errorf("webhook-signature has %d signatures after the overlap, want 1", n)
	}
	if err := verify(newSecret, req.Header, req.Body, time.Now()); err != nil {
		t.Errorf("new secret after the overlap: %v", err)
	}
	if err := verify(oldSecret, req.Header, req.Body, time.Now()); err == nil {
		t.Error("the old secret still verifies after the overlap")
	}
}

// A wait longer than MaxQueueDelay is kept in the table; SweepDue queues the attempt once it is due.
func TestLongWaitComesBackThroughTheSweep(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: []time.Duration{0, time.Hour}, MaxQueueDelay: time.Minute})
	rc := newReceiver(t, failFirst(1))
	e, secret := r.endpoint(t, rc.srv.URL, "horse.created")
	ctx := context.Background()
	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return len(rc.requests()) == 1 })
	r.run(t, func() bool { ds := r.deliveries(t, e.ID); return ds[0].Status == webhook.StatusFailed })
	d := r.deliveries(t, e.ID)[0]
	if d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 50*time.Minute {
		t.Fatalf("next attempt at %v, want about an hour ahead (±10%%)", d.NextAttemptAt)
	}
	if n, err := r.disp.SweepDue(ctx, 10); err != nil || n != 0 {
		t.Fatalf("SweepDue before it is due = %d, %v; want 0", n, err)
	}
	if got := r.q.poll(t, r.handler); got != 0 {
		t.Fatalf("%d messages queued for a wait of an hour, want none", got)
	}

	if _, err := r.db.Owner.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := r.disp.SweepDue(ctx, 10); err != nil || n != 1 {
		t.Fatalf("SweepDue when due = %d, %v; want 1", n, err)
	}
	r.run(t, func() bool { return len(rc.requests()) == 2 })
	if err := verify(secret, rc.requests()[1].Header, rc.requests()[1].Body, time.Now()); err != nil {
		t.Error(err)
	}
	r.run(t, func() bool { return r.deliveries(t, e.ID)[0].Status == webhook.StatusSucceeded })
}

func TestDuplicateAndStaleMessagesMakeNoAttempt(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, func(int) int { return http.StatusOK })
	e, _ := r.endpoint(t, rc.srv.URL, "horse.created")
	ctx := context.Background()
	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil {
		t.Fatal(err)
	}
	d := r.deliveries(t, e.ID)[0]
	job := webhook.Job{DeliveryID: d.ID, TenantID: r.tenant, Attempt: 1}
	// The same first attempt twice more (as after a lost acknowledgement), and an attempt from the future.
	if err := r.q.Enqueue(ctx, job, job, webhook.Job{DeliveryID: d.ID, TenantID: r.tenant, Attempt: 5}); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return r.deliveries(t, e.ID)[0].Status == webhook.StatusSucceeded })
	for r.q.poll(t, r.handler) > 0 {
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("receiver got %d requests for one delivery sent four times, want 1", n)
	}
	// Another tenant's job for this delivery finds nothing (row-level security) and is dropped.
	if err := r.disp.Handle(ctx, webhook.Job{DeliveryID: d.ID, TenantID: uuid.NewString(), Attempt: 2}.Body()); err != nil {
		t.Errorf("job of another tenant: %v, want dropped", err)
	}
}

func TestRefusedAddressIsAFailedAttemptWithoutTraffic(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, webhook.Options{Schedule: []time.Duration{0}})
	rc := newReceiver(t, func(int) int { return http.StatusOK })
	// Registered behind the guard's back (as if the name had resolved elsewhere when it was checked).
	e, _ := r.endpoint(t, rc.srv.URL, "horse.created")
	ctx := context.Background()
	if _, err := r.disp.FanOut(ctx, r.event(t, "horse.created", `{}`)); err != nil {
		t.Fatal(err)
	}
	r.run(t, func() bool { return r.deliveries(t, e.ID)[0].Status == webhook.StatusDead })
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the loopback receiver got %d requests, want 0", n)
	}
	d := r.deliveries(t, e.ID)[0]
	if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != nil || d.Attempts[0].Error == nil || !strings.Contains(*d.Attempts[0].Error, "not a public address") {
		t.Errorf("attempt log = %+v, want one attempt refused for its address", d.Attempts)
	}
}

// An outbox entry for the webhooks queue arrives as an envelope naming the event type: it is fanned out
// and delivered.
func TestOutboxEnvelopeIsFannedOut(t *testing.T) {
	t.Parallel()
	r := newRig(t, []string{"127.0.0.1"}, webhook.Options{Schedule: quickSchedule()})
	rc := newReceiver(t, func(int) int { return http.StatusAccepted })
	e, secret := r.endpoint(t, rc.srv.URL, "horse.created")
	id := uuid.NewString()
	env, _ := json.Marshal(map[string]any{"id": id, "kind": "horse.created", "tenant_id": r.tenant,
		"payload": map[string]string{"name": "Comet"}, "created_at": time.Now()})
	r.q.send(t, id, env)
	r.q.send(t, id, env) // published twice by the relay: one delivery
	r.run(t, func() bool {
		ds := r.deliveries(t, e.ID)
		return len(ds) == 1 && ds[0].Status == webhook.StatusSucceeded
	})
	for r.q.poll(t, r.handler) > 0 {
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
	if err := verify(secret, rc.requests()[0].Header, rc.requests()[0].Body, time.Now()); err != nil {
		t.Error(err)
	}
	if got := r.deliveries(t, e.ID)[0].EventID; got != id {
		t.Errorf("event id = %s, want the outbox entry's id %s", got, id)
	}
}
