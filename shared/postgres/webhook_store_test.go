package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/webhook"
)

// webhookEndpoint registers an endpoint for p through the store.
func webhookEndpoint(t testing.TB, s *postgres.WebhookStore, p auth.Principal, url string, types ...string) webhook.Endpoint {
	t.Helper()
	e, err := s.CreateEndpoint(context.Background(), p, webhook.NewEndpoint{URL: url, EventTypes: types, Secret: webhook.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fanOut creates the deliveries of a new event of p's tenant and returns their jobs.
func fanOut(t testing.TB, s *postgres.WebhookStore, p auth.Principal, typ string) []webhook.Job {
	t.Helper()
	ev := webhook.Event{ID: uuid.NewString(), TenantID: p.TenantID, Type: typ, Payload: []byte(`{"k":1}`)}
	jobs, err := s.CreateDeliveries(context.Background(), ev, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestWebhookStoreEndpoints(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewWebhookStore(db.App, nil)
	ctx := context.Background()

	var made []string
	for _, u := range []string{"https://one.example/h", "https://two.example/h", "https://three.example/h"} {
		e := webhookEndpoint(t, s, w.principalA, u, "horse.sold", "horse.deleted")
		if e.URL != u || e.CreatedBy == nil || *e.CreatedBy != w.userA || e.DisabledAt != nil || e.PreviousSecretExpiresAt != nil {
			t.Errorf("created %+v", e)
		}
		made = append(made, e.ID)
	}
	want := orderedIDs(t, db.Owner, `SELECT id::text FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, w.tenantA)
	got := allPages(t, 10, func(after *webhook.Position) ([]string, *webhook.Position, error) {
		page, err := s.ListEndpoints(ctx, w.principalA, webhook.Query{Limit: 2, After: after})
		var ids []string
		for _, e := range page.Endpoints {
			ids = append(ids, e.ID)
		}
		return ids, page.Next, err
	})
	if diff := cmp.Diff(want, got); diff != "" || len(got) != 4 {
		t.Errorf("A's endpoints page by page, 4 with the fixture's (-want +got):\n%s", diff)
	}

	t.Run("another tenant's endpoint is not found", func(t *testing.T) {
		t.Parallel()
		id := made[0]
		if err := s.DeleteEndpoint(ctx, w.principalB, id); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("B deletes A's endpoint: %v, want ErrNotFound", err)
		}
		if _, err := s.RotateSecret(ctx, w.principalB, id, webhook.NewSecret(), time.Hour); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("B rotates A's secret: %v, want ErrNotFound", err)
		}
		if _, err := s.ListDeliveries(ctx, w.principalB, id, webhook.Query{Limit: 5}); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("B lists A's deliveries: %v, want ErrNotFound", err)
		}
		page, err := s.ListEndpoints(ctx, w.principalB, webhook.Query{Limit: 50})
		if err != nil || len(page.Endpoints) != 1 {
			t.Errorf("B lists %d endpoints (err %v), want only its fixture one", len(page.Endpoints), err)
		}
	})

	t.Run("rotate keeps the previous secret for the overlap", func(t *testing.T) {
		t.Parallel()
		id := made[1]
		var before string
		if err := db.Owner.QueryRow(ctx, `SELECT secret FROM webhook_endpoints WHERE id = $1`, id).Scan(&before); err != nil {
			t.Fatal(err)
		}
		next := webhook.NewSecret()
		e, err := s.RotateSecret(ctx, w.principalA, id, next, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if e.PreviousSecretExpiresAt == nil || time.Until(*e.PreviousSecretExpiresAt) < 23*time.Hour {
			t.Errorf("previous secret expires %v, want in about 24 h", e.PreviousSecretExpiresAt)
		}
		var secret, previous string
		if err := db.Owner.QueryRow(ctx, `SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1`, id).Scan(&secret, &previous); err != nil {
			t.Fatal(err)
		}
		if secret != next || previous != before {
			t.Error("after rotation the secret is not the new one, or the previous one is not the old one")
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		id := made[2]
		if err := s.DeleteEndpoint(ctx, w.principalA, id); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteEndpoint(ctx, w.principalA, id); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
	})
}

func TestWebhookStoreDeliveries(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewWebhookStore(db.App, db.Maint)
	ctx := context.Background()
	e := webhookEndpoint(t, s, w.principalA, "https://one.example/h", "horse.sold")
	all := webhookEndpoint(t, s, w.principalA, "https://all.example/h", "*")
	webhookEndpoint(t, s, w.principalA, "https://other.example/h", "horse.deleted")
	webhookEndpoint(t, s, w.principalB, "https://b.example/h", "*")

	jobs := fanOut(t, s, w.principalA, "horse.sold")
	if len(jobs) != 2 {
		t.Fatalf("fan-out made %d deliveries, want 2 (the subscribed and the catch-all endpoint)", len(jobs))
	}
	for _, j := range jobs {
		if j.Attempt != 1 || j.TenantID != w.tenantA {
			t.Errorf("job %+v: want attempt 1 in tenant A", j)
		}
	}
	ds, err := s.ListDeliveries(ctx, w.principalA, e.ID, webhook.Query{Limit: 10})
	if err != nil || len(ds.Deliveries) != 1 {
		t.Fatalf("deliveries of the endpoint: %+v, %v", ds, err)
	}
	d := ds.Deliveries[0]
	if d.Status != webhook.StatusPending || d.Attempt != 0 || d.NextAttemptAt == nil || d.Attempts == nil || len(d.Attempts) != 0 {
		t.Errorf("new delivery %+v: want pending, no attempt, a safety-net time, an empty attempt log", d)
	}
	job := webhook.Job{DeliveryID: d.ID, TenantID: w.tenantA, Attempt: 1}

	t.Run("retry of a pending delivery conflicts", func(t *testing.T) {
		if _, err := s.RetryDelivery(ctx, w.principalA, d.ID, time.Minute); !errors.Is(err, webhook.ErrRetryConflict) {
			t.Errorf("err = %v, want ErrRetryConflict", err)
		}
		if _, err := s.RetryDelivery(ctx, w.principalB, d.ID, time.Minute); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("B: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("claim only the next attempt", func(t *testing.T) {
		for _, stale := range []webhook.Job{{DeliveryID: d.ID, TenantID: w.tenantA, Attempt: 2}, {DeliveryID: d.ID, TenantID: w.tenantB, Attempt: 1}} {
			if _, err := s.Claim(ctx, stale, time.Minute); !errors.Is(err, webhook.ErrStale) {
				t.Errorf("Claim(%+v) = %v, want ErrStale", stale, err)
			}
		}
		target, err := s.Claim(ctx, job, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if target.URL != e.URL || len(target.Secrets) != 1 || target.Delivery.Attempt != 1 || string(target.Delivery.Payload) != `{"k": 1}` {
			t.Errorf("target %+v", target)
		}
		if _, err := s.Claim(ctx, job, time.Minute); !errors.Is(err, webhook.ErrStale) {
			t.Errorf("second claim of attempt 1: %v, want ErrStale", err)
		}
	})

	t.Run("record a failure then a success", func(t *testing.T) {
		wait := 5 * time.Second
		rec, err := s.Record(ctx, webhook.Result{Job: job, EndpointID: e.ID, StatusCode: 500, Error: "HTTP 500", Duration: 12 * time.Millisecond,
			Retry: &wait, Queued: true, SafetyNet: time.Minute, FailureWindow: 120 * time.Hour})
		if err != nil || rec.Disabled {
			t.Fatalf("Record failure = %+v, %v", rec, err)
		}
		got, _ := s.ListDeliveries(ctx, w.principalA, e.ID, webhook.Query{Limit: 1})
		d := got.Deliveries[0]
		if d.Status != webhook.StatusFailed || d.LastStatus == nil || *d.LastStatus != 500 || d.NextAttemptAt == nil ||
			time.Until(*d.NextAttemptAt) < 50*time.Second || len(d.Attempts) != 1 || d.Attempts[0].DurationMS != 12 {
			t.Errorf("after a failure: %+v", d)
		}
		var failing *time.Time
		if err := db.Owner.QueryRow(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = $1`, e.ID).Scan(&failing); err != nil || failing == nil {
			t.Errorf("failing_since after a failure = %v (err %v), want set", failing, err)
		}

		next := webhook.Job{DeliveryID: d.ID, TenantID: w.tenantA, Attempt: 2}
		if _, err := s.Claim(ctx, next, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, webhook.Result{Job: next, EndpointID: e.ID, StatusCode: 204, Succeeded: true}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.ListDeliveries(ctx, w.principalA, e.ID, webhook.Query{Limit: 1})
		d = got.Deliveries[0]
		if d.Status != webhook.StatusSucceeded || d.DeliveredAt == nil || d.NextAttemptAt != nil || d.LastError != nil || len(d.Attempts) != 2 {
			t.Errorf("after a success: %+v", d)
		}
		if err := db.Owner.QueryRow(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = $1`, e.ID).Scan(&failing); err != nil || failing != nil {
			t.Errorf("failing_since after a success = %v (err %v), want cleared", failing, err)
		}

		retried, err := s.RetryDelivery(ctx, w.principalA, d.ID, time.Minute)
		if err != nil || retried.Status != webhook.StatusPending || retried.Attempt != 2 {
			t.Errorf("manual retry of a succeeded delivery = %+v, %v; want pending at attempt 2", retried, err)
		}
	})

	t.Run("a late result does not overwrite a later attempt", func(t *testing.T) {
		jobs := fanOut(t, s, w.principalA, "horse.sold")
		var j webhook.Job
		for _, x := range jobs {
			var endpoint string
			if err := db.Owner.QueryRow(ctx, `SELECT endpoint_id::text FROM webhook_deliveries WHERE id = $1`, x.DeliveryID).Scan(&endpoint); err != nil {
				t.Fatal(err)
			}
			if endpoint == all.ID {
				j = x
			}
		}
		for _, a := range []int{1, 2} {
			if _, err := s.Claim(ctx, webhook.Job{DeliveryID: j.DeliveryID, TenantID: j.TenantID, Attempt: a}, time.Minute); err != nil {
				t.Fatalf("claim attempt %d: %v", a, err)
			}
		}
		// Attempt 1's outcome arrives after attempt 2 was claimed (its lease had run out).
		if _, err := s.Record(ctx, webhook.Result{Job: webhook.Job{DeliveryID: j.DeliveryID, TenantID: j.TenantID, Attempt: 1}, EndpointID: all.ID, Succeeded: true, StatusCode: 200}); err != nil {
			t.Fatal(err)
		}
		var status string
		var attempts int
		if err := db.Owner.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1) FROM webhook_deliveries WHERE id = $1`, j.DeliveryID).Scan(&status, &attempts); err != nil {
			t.Fatal(err)
		}
		if status != webhook.StatusPending || attempts != 1 {
			t.Errorf("status %s with %d logged attempts, want pending (attempt 2 in flight) and attempt 1 logged", status, attempts)
		}
	})

	t.Run("claim for a disabled endpoint kills the delivery", func(t *testing.T) {
		jobs := fanOut(t, s, w.principalB, "horse.sold")
		if len(jobs) != 1 {
			t.Fatalf("B's fan-out made %d deliveries, want 1", len(jobs))
		}
		if _, err := db.Owner.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = 'test' WHERE tenant_id = $1`, w.tenantB); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, jobs[0], time.Minute); !errors.Is(err, webhook.ErrEndpointDisabled) {
			t.Fatalf("Claim = %v, want ErrEndpointDisabled", err)
		}
		var status string
		if err := db.Owner.QueryRow(ctx, `SELECT status FROM webhook_deliveries WHERE id = $1`, jobs[0].DeliveryID).Scan(&status); err != nil || status != webhook.StatusDead {
			t.Errorf("status %q (err %v), want dead", status, err)
		}
		if got := fanOut(t, s, w.principalB, "horse.sold"); len(got) != 0 {
			t.Errorf("fan-out to a disabled endpoint made %d deliveries", len(got))
		}
	})
}

func TestWebhookStoreSweepDue(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewWebhookStore(db.App, db.Maint)
	ctx := context.Background()
	webhookEndpoint(t, s, w.principalA, "https://a.example/h", "horse.sold")
	webhookEndpoint(t, s, w.principalB, "https://b.example/h", "horse.sold")
	a := fanOut(t, s, w.principalA, "horse.sold")
	b := fanOut(t, s, w.principalB, "horse.sold")
	fanOut(t, s, w.principalA, "horse.sold") // not due: its safety net is a minute ahead
	finished := fanOut(t, s, w.principalB, "horse.sold")
	due := []string{a[0].DeliveryID, b[0].DeliveryID, finished[0].DeliveryID}
	if _, err := db.Owner.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 minute', attempt = 2, status = 'failed' WHERE id = ANY ($1)`, due); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, `UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = $1`, finished[0].DeliveryID); err != nil {
		t.Fatal(err)
	}

	if _, err := postgres.NewWebhookStore(db.App, nil).SweepDue(ctx, 10, time.Minute); !errors.Is(err, postgres.ErrNoMaintenancePool) {
		t.Errorf("SweepDue without the maintenance pool: %v, want ErrNoMaintenancePool", err)
	}
	first, err := s.SweepDue(ctx, 1, time.Minute)
	if err != nil || len(first) != 1 {
		t.Fatalf("SweepDue(limit 1) = %v, %v; want one job", first, err)
	}
	rest, err := s.SweepDue(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]webhook.Job{}
	for _, j := range append(first, rest...) {
		got[j.DeliveryID] = j
	}
	want := map[string]webhook.Job{
		a[0].DeliveryID: {DeliveryID: a[0].DeliveryID, TenantID: w.tenantA, Attempt: 3},
		b[0].DeliveryID: {DeliveryID: b[0].DeliveryID, TenantID: w.tenantB, Attempt: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("swept jobs across tenants (-want +got):\n%s", diff)
	}
	if again, err := s.SweepDue(ctx, 10, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("a second sweep = %v, %v; want nothing until the safety net passes", again, err)
	}
}
