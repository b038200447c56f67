package outbox_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/outbox"
)

// committed reads entries back as their writer holds them after the commit.
func (f *fixture) committed(t testing.TB, ids ...string) []outbox.Committed {
	t.Helper()
	out := make([]outbox.Committed, len(ids))
	for i, id := range ids {
		c := outbox.Committed{ID: id}
		err := f.db.Owner.QueryRow(context.Background(), `SELECT coalesce(tenant_id::text, ''), queue, kind, payload::text, created_at FROM outbox WHERE id = $1`, id).
			Scan(&c.TenantID, &c.Queue, &c.Kind, &c.Payload, &c.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// Publish sends what the writer holds, from concurrent callers too, and marks it published; the
// messages are the relay's (same envelope).
func TestPublishCommitted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ob := outbox.New(f.db.App, f.pub, discard(), outbox.Options{})
	var ids []string
	for i := range 12 {
		tenant := f.tenantA
		if i%3 == 0 {
			tenant = f.tenantB
		}
		ids = append(ids, f.add(t, tenant, outbox.Entry{Queue: "jobs", Kind: "committed", Payload: map[string]int{"i": i}})...)
	}
	entries := f.committed(t, ids...)
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() {
			if n, err := ob.Publish(ctx, e); n != 1 || err != nil {
				t.Errorf("Publish(%s) = %d, %v", e.ID, n, err)
			}
		})
	}
	wg.Wait()
	if n := f.count(t, "published_at IS NULL"); n != 0 {
		t.Fatalf("%d entries still pending", n)
	}
	got := drain(t, f.sqs, f.queues["jobs"], len(ids))
	if diff := cmp.Diff(sorted(ids), sorted(idsOf(got))); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	for _, r := range got {
		var p map[string]int
		if err := json.Unmarshal(r.Env.Payload, &p); err != nil || r.Env.Kind != "committed" || r.Env.CreatedAt.IsZero() {
			t.Errorf("envelope %+v (%v)", r.Env, err)
		}
	}
}

// When SQS cannot be reached, Publish reports it and leaves the entries pending; the relay sends them.
func TestPublishCommittedLeavesFailuresToTheRelay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	px, pub := proxiedPublisher(t, f.queues)
	ob := outbox.New(f.db.App, pub, discard(), outbox.Options{})
	ids := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "lost"}, outbox.Entry{Queue: "jobs", Kind: "lost"})
	px.stop()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := ob.Publish(sctx, f.committed(t, ids...)...); n != 0 || err == nil {
		t.Fatalf("Publish with SQS down = %d, %v; want 0 and an error", n, err)
	}
	if n := f.count(t, "published_at IS NULL"); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	px.restart()
	relay := outbox.NewRelay(f.db.Maint, pub, discard(), outbox.RelayOptions{})
	if n, err := relay.Run(ctx); n != 2 || err != nil {
		t.Fatalf("relay = %d, %v; want 2, nil", n, err)
	}
	drain(t, f.sqs, f.queues["jobs"], 2)
}
