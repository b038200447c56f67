package sqsx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/sqsx"
)

// effects is a table whose rows are the observable effect of handling a message: nothing stops a second
// insert but Once.
func newEffectsDB(t testing.TB) (*pgtest.DB, string) {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `CREATE TABLE effects (tenant_id uuid, message_id text NOT NULL);
		GRANT SELECT, INSERT ON effects TO corral_app`); err != nil {
		t.Fatal(err)
	}
	var tenant string
	if err := db.Owner.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', 't-' || gen_random_uuid()) RETURNING id::text`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	return db, tenant
}

// handle makes the effect of d once per (tenant, id): Once and the insert commit together.
func handle(ctx context.Context, db *pgtest.DB, tenant string, d sqsx.Delivery, fail error) error {
	return db.App.InTx(ctx, auth.Principal{TenantID: tenant}, func(tx pgx.Tx) error {
		first, err := sqsx.Once(ctx, tx, "test-consumer", d.ID)
		if err != nil || !first {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO effects (tenant_id, message_id) VALUES (nullif($1, '')::uuid, $2)`, tenant, d.ID); err != nil {
			return err
		}
		return fail // a failure after the effect rolls the effect and the record back together
	})
}

func effectCounts(t testing.TB, db *pgtest.DB) map[string]int {
	t.Helper()
	rows, err := db.Owner.Query(context.Background(), `SELECT coalesce(tenant_id::text, '-') || '/' || message_id, count(*) FROM effects GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// The same corral-id delivered twice (published twice, as an outbox relay retrying after a lost answer
// would) has one effect; a different id has its own.
func TestDuplicateDeliveryHasOneEffect(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	db, tenant := newEffectsDB(t)
	q, _ := newQueue(t, c, queueSpec{})
	pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
	for _, id := range []string{"dup", "dup", "other"} {
		if err := pub.Send(context.Background(), "jobs", sqsx.Message{ID: id, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := 0
	fn := lambdax.SQS(discard(), sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error {
		mu.Lock()
		handled++
		mu.Unlock()
		return handle(ctx, db, tenant, d, nil)
	}, sqsx.Options{}))
	for i := 0; handled < 3; i++ {
		if i > 10 {
			t.Fatalf("handled %d of 3 deliveries", handled)
		}
		if _, failed := deliver(t, c, q, fn, time.Second); len(failed) > 0 {
			t.Fatalf("failures: %v", failed)
		}
	}
	if diff := cmp.Diff(map[string]int{tenant + "/dup": 1, tenant + "/other": 1}, effectCounts(t, db)); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
}

func TestOnce(t *testing.T) {
	t.Parallel()
	db, tenantA := newEffectsDB(t)
	ctx := context.Background()
	var tenantB string
	if err := db.Owner.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('b', 'b-' || gen_random_uuid()) RETURNING id::text`).Scan(&tenantB); err != nil {
		t.Fatal(err)
	}
	errLater := errors.New("failed after the effect")

	steps := []struct {
		tenant, id string
		fail       error
	}{
		{tenantA, "m1", errLater}, // rolled back: neither the effect nor the record stays
		{tenantA, "m1", nil},      // so the redelivery has the effect
		{tenantA, "m1", nil},      // and the next one does not
		{tenantB, "m1", nil},      // the same id in another tenant is another message
		{"", "m1", nil},           // and outside any tenant (NULL tenant) too
		{"", "m1", nil},           // deduped although tenant_id is NULL
	}
	for i, s := range steps {
		err := handle(ctx, db, s.tenant, sqsx.Delivery{ID: s.id}, s.fail)
		if !errors.Is(err, s.fail) {
			t.Fatalf("step %d: %v, want %v", i, err, s.fail)
		}
	}
	want := map[string]int{tenantA + "/m1": 1, tenantB + "/m1": 1, "-/m1": 1}
	if diff := cmp.Diff(want, effectCounts(t, db)); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}

	// Tenant B's transaction sees only its own record.
	var seen []string
	err := db.App.InTx(ctx, auth.Principal{TenantID: tenantB}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT coalesce(tenant_id::text, '-') FROM processed_messages`)
		if err != nil {
			return err
		}
		seen, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{tenantB}, seen); diff != "" {
		t.Errorf("records visible to tenant B (-want +got):\n%s", diff)
	}

	for _, tt := range []struct{ consumer, id string }{{"", "x"}, {"c", ""}} {
		err := db.App.InTx(ctx, auth.Principal{}, func(tx pgx.Tx) error {
			_, err := sqsx.Once(ctx, tx, tt.consumer, tt.id)
			return err
		})
		if err == nil {
			t.Errorf("Once(%q, %q) succeeded, want an error", tt.consumer, tt.id)
		}
	}
}

// Two deliveries of one id handled at the same time: one effect.
func TestOnceConcurrent(t *testing.T) {
	t.Parallel()
	db, tenant := newEffectsDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = handle(context.Background(), db, tenant, sqsx.Delivery{ID: "same"}, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
	}
	if diff := cmp.Diff(map[string]int{fmt.Sprintf("%s/same", tenant): 1}, effectCounts(t, db)); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
}
