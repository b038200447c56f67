package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/stripehook"
)

func stripeEvent(typ, tenantID string) stripehook.Event {
	return stripehook.Event{
		ID: "evt_" + uuid.NewString(), Type: typ, TenantID: tenantID, Livemode: false,
		APIVersion: "2025-08-27.basil", Created: time.Unix(1748779200, 0).UTC(),
		Payload: []byte(`{"object":"event","data":{"object":{"id":"cs_1"}}}`),
	}
}

// ledgerRow is what the owner sees of an event's row.
type ledgerRow struct {
	Type, TenantID, ObjectID, ObjectStatus string
	Processed                              bool
	Payload                                string
}

// ledgerRows reads the rows of id through the owner pool (no row-level security): 0 or 1 rows.
func ledgerRows(t testing.TB, db *pgtest.DB, id string) []ledgerRow {
	t.Helper()
	rows, err := db.Owner.Query(context.Background(), `
		SELECT type, coalesce(tenant_id::text, ''), coalesce(object_id, ''), coalesce(object_status, ''),
		       processed_at IS NOT NULL, payload->'data'->'object'->>'id'
		FROM stripe_events WHERE id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledgerRow, error) {
		var l ledgerRow
		err := r.Scan(&l.Type, &l.TenantID, &l.ObjectID, &l.ObjectStatus, &l.Processed, &l.Payload)
		return l, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStripeEventStoreProcessesEachEventOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewStripeEventStore(db.App)
	ctx := context.Background()
	tenant := uuid.NewString()

	tests := []struct {
		name    string
		handled bool
		want    ledgerRow
	}{
		{"handled", true, ledgerRow{Type: "checkout.session.completed", TenantID: tenant, Processed: true, Payload: "cs_1"}},
		{"acknowledged only", false, ledgerRow{Type: "checkout.session.completed", TenantID: tenant, Processed: false, Payload: "cs_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := stripeEvent("checkout.session.completed", tenant)
			calls := 0
			fn := func(tx pgx.Tx) (bool, error) { calls++; return tt.handled, nil }
			for i, wantFirst := range []bool{true, false, false} {
				first, err := store.Process(ctx, e, fn)
				if err != nil {
					t.Fatalf("delivery %d: %v", i+1, err)
				}
				if first != wantFirst {
					t.Errorf("delivery %d: first = %v, want %v", i+1, first, wantFirst)
				}
			}
			if calls != 1 {
				t.Errorf("fn ran %d times over three deliveries, want 1", calls)
			}
			if diff := cmp.Diff([]ledgerRow{tt.want}, ledgerRows(t, db, e.ID)); diff != "" {
				t.Errorf("ledger (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripeEventStoreHandlerFailureRecordsNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewStripeEventStore(db.App)
	ctx := context.Background()
	e := stripeEvent("checkout.session.expired", "")
	boom := errors.New("handler failed")

	first, err := store.Process(ctx, e, func(tx pgx.Tx) (bool, error) {
		if err := store.RecordObject(ctx, tx, e.ID, "cs_1", "expired"); err != nil {
			return false, err
		}
		return true, boom
	})
	if !errors.Is(err, boom) || first {
		t.Fatalf("Process = %v, %v; want false and the handler's error", first, err)
	}
	if rows := ledgerRows(t, db, e.ID); len(rows) != 0 {
		t.Fatalf("after a failed handler the ledger has %+v, want nothing", rows)
	}

	// Stripe's retry finds the event new and runs the handler again.
	first, err = store.Process(ctx, e, func(tx pgx.Tx) (bool, error) {
		return true, store.RecordObject(ctx, tx, e.ID, "cs_1", "expired")
	})
	if err != nil || !first {
		t.Fatalf("retry: Process = %v, %v; want true, nil", first, err)
	}
	want := []ledgerRow{{Type: "checkout.session.expired", ObjectID: "cs_1", ObjectStatus: "expired", Processed: true, Payload: "cs_1"}}
	if diff := cmp.Diff(want, ledgerRows(t, db, e.ID)); diff != "" {
		t.Errorf("ledger after the retry (-want +got):\n%s", diff)
	}
}

func TestStripeEventStoreConcurrentDeliveriesRunOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewStripeEventStore(db.App)
	e := stripeEvent("checkout.session.completed", "")
	var (
		calls, firsts atomic.Int32
		wg            sync.WaitGroup
		errs          = make(chan error, 4)
	)
	for range 4 { // the app pool has 4 connections
		wg.Go(func() {
			first, err := store.Process(context.Background(), e, func(tx pgx.Tx) (bool, error) {
				calls.Add(1)
				time.Sleep(20 * time.Millisecond) // hold the row while the others arrive
				return true, nil
			})
			if err != nil {
				errs <- err
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if calls.Load() != 1 || firsts.Load() != 1 {
		t.Errorf("handler ran %d times, %d deliveries were first; want 1 and 1", calls.Load(), firsts.Load())
	}
}

func TestStripeEventStoreRecordObjectNeedsTheEventRow(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewStripeEventStore(db.App)
	e := stripeEvent("checkout.session.completed", "")
	_, err := store.Process(context.Background(), e, func(tx pgx.Tx) (bool, error) {
		return true, store.RecordObject(context.Background(), tx, "evt_elsewhere", "cs_1", "complete")
	})
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("RecordObject for an event with no row: %v, want pgx.ErrNoRows", err)
	}
}

// Only the webhook's own transactions (flag on, no tenant) touch the ledger; a tenant reads the events
// about it and writes none; nobody in the application deletes.
func TestStripeEventsRowLevelSecurity(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	store := postgres.NewStripeEventStore(db.App)
	a, b := uuid.NewString(), uuid.NewString()
	for _, tenant := range []string{a, b, ""} {
		if _, err := store.Process(ctx, stripeEvent("checkout.session.completed", tenant), func(pgx.Tx) (bool, error) { return true, nil }); err != nil {
			t.Fatal(err)
		}
	}
	const flag = `SELECT set_config('app.stripe_webhook', 'on', true)`

	count := func(t *testing.T, p auth.Principal, withFlag bool) (total, ofA int) {
		t.Helper()
		err := db.App.InTx(ctx, p, func(tx pgx.Tx) error {
			if withFlag {
				if _, err := tx.Exec(ctx, flag); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE tenant_id = $1) FROM stripe_events`, a).Scan(&total, &ofA)
		})
		if err != nil {
			t.Fatal(err)
		}
		return total, ofA
	}
	tenantA := auth.Principal{TenantID: a, UserID: uuid.NewString()}

	t.Run("reads", func(t *testing.T) {
		tests := []struct {
			name      string
			p         auth.Principal
			flag      bool
			total, ah int
		}{
			{"webhook", auth.Principal{}, true, 3, 1},
			{"no tenant, no flag (anonymous routes)", auth.Principal{}, false, 0, 0},
			{"tenant A", tenantA, false, 1, 1},
			{"tenant A with the flag", tenantA, true, 1, 1},
		}
		for _, tt := range tests {
			total, ofA := count(t, tt.p, tt.flag)
			if total != tt.total || ofA != tt.ah {
				t.Errorf("%s: sees %d rows (%d of A), want %d (%d)", tt.name, total, ofA, tt.total, tt.ah)
			}
		}
	})

	t.Run("writes", func(t *testing.T) {
		insert := `INSERT INTO stripe_events (id, type, created_at, payload) VALUES ('evt_' || gen_random_uuid(), 'x', now(), '{}')`
		tests := []struct {
			name, sql string
			p         auth.Principal
			flag      bool
		}{
			{"insert without the flag", insert, auth.Principal{}, false},
			{"insert as a tenant", insert, tenantA, false},
			{"insert as a tenant with the flag", insert, tenantA, true},
			{"delete as the webhook", `DELETE FROM stripe_events`, auth.Principal{}, true},
		}
		for _, tt := range tests {
			err := db.App.InTx(ctx, tt.p, func(tx pgx.Tx) error {
				if tt.flag {
					if _, err := tx.Exec(ctx, flag); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, tt.sql)
				return err
			})
			if got := sqlState(err); got != "42501" {
				t.Errorf("%s: err = %v (SQLSTATE %q), want 42501", tt.name, err, got)
			}
		}
		var updated int64
		err := db.App.InTx(ctx, tenantA, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE stripe_events SET object_status = 'forged'`)
			updated = tag.RowsAffected()
			return err
		})
		if err != nil || updated != 0 {
			t.Errorf("tenant A updated %d ledger rows (err %v), want 0", updated, err)
		}
	})
}
