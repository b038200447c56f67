package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// recordedCall is a request context with a pending idempotency lease of store whose handler declared
// its response.
func recordedCall(store *postgres.IdempotencyStore, tenant, user, route, key string, status int, header http.Header) (context.Context, *idempotency.Pending) {
	p := store.Pending(idempotency.Key{TenantID: tenant, UserID: user, Route: route, Key: key}, []byte("hash-"+key), 30*time.Second, time.Hour)
	ctx := idempotency.WithPending(context.Background(), p)
	idempotency.Expect(ctx, status, header)
	return ctx, p
}

// storedRecord reads an idempotency record as the owner.
func storedRecord(t *testing.T, db *pgtest.DB, key string) (status string, code int, header http.Header, body []byte) {
	t.Helper()
	var raw []byte
	err := db.Owner.QueryRow(t.Context(), `SELECT status, coalesce(response_status, 0), coalesce(response_headers, '{}'), coalesce(response_body, '')
		FROM idempotency_keys WHERE key = $1`, key).Scan(&status, &code, &raw, &body)
	if err != nil {
		t.Fatalf("record %s: %v", key, err)
	}
	if err := json.Unmarshal(raw, &header); err != nil {
		t.Fatal(err)
	}
	return status, code, header, body
}

// writeJSON is what the handler sends for v.
func writeJSON(v any) []byte {
	rec := httptest.NewRecorder()
	httpapi.WriteJSON(rec, httptest.NewRequest("GET", "/", nil), http.StatusOK, v)
	return rec.Body.Bytes()
}

// A create or update whose handler declared its response stores the finished record in the write's own
// statement: completed, with the declared status and headers and the body byte for byte as
// httpapi.WriteJSON encodes the horse the store returns (strings that encoding/json escapes differently
// from PostgreSQL's row_to_json included).
func TestHorseRecordedResponse(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	store := postgres.NewIdempotencyStore(db.App)
	tricky := "<b>Tom & Jerry</b> \"quoted\" back\\slash\ttab\nline\r\u0001\u001f\u007f \u2028\u2029 ünïcode 🐎 /slash"
	created := map[string]horse.Horse{}
	for name, in := range map[string]horse.CreateRequest{
		"plain":  {Name: "Plain", Sex: "mare"},
		"tricky": {Name: tricky, Sex: "gelding", Breed: addr("Arabian"), Color: addr(""), BirthYear: addr(2015), Discipline: addr("<dressage>"), Description: addr(tricky), OwnerUserID: addr(w.userA), OwnerBusinessID: addr(w.businessA)},
	} {
		in.ID = uuid.NewString()
		header := http.Header{"Content-Type": {"application/json"}, "Location": {"/horses/" + in.ID}}
		ctx, pending := recordedCall(store, w.tenantA, w.userA, "POST /horses", "create-"+name, http.StatusCreated, header)
		h, err := s.Create(ctx, w.principalA, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.ID != in.ID {
			t.Errorf("%s: created id %s, want the handler's %s", name, h.ID, in.ID)
		}
		if got := pending.State(); got != idempotency.PendingRecorded {
			t.Errorf("%s: pending state %v, want recorded", name, got)
		}
		status, code, gotHeader, body := storedRecord(t, db, "create-"+name)
		if status != "completed" || code != http.StatusCreated {
			t.Errorf("%s: record %s %d, want completed 201", name, status, code)
		}
		if diff := cmp.Diff(header, gotHeader); diff != "" {
			t.Errorf("%s: recorded headers (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(string(writeJSON(h)), string(body)); diff != "" {
			t.Errorf("%s: recorded body (-httpapi.WriteJSON +SQL):\n%s", name, diff)
		}
		created[name] = h
	}

	t.Run("update", func(t *testing.T) {
		header := http.Header{"Content-Type": {"application/json"}}
		ctx, pending := recordedCall(store, w.tenantA, w.userA, "PATCH /horses/{id}", "update", http.StatusOK, header)
		h, err := s.Update(ctx, w.principalA, created["plain"].ID, horse.UpdateRequest{Description: addr(tricky + " & more"), Breed: addr("")})
		if err != nil {
			t.Fatal(err)
		}
		if got := pending.State(); got != idempotency.PendingRecorded {
			t.Errorf("pending state %v, want recorded", got)
		}
		_, code, _, body := storedRecord(t, db, "update")
		if code != http.StatusOK {
			t.Errorf("recorded status %d, want 200", code)
		}
		if diff := cmp.Diff(string(writeJSON(h)), string(body)); diff != "" {
			t.Errorf("recorded body (-httpapi.WriteJSON +SQL):\n%s", diff)
		}
	})

	t.Run("update, timestamps of every precision", func(t *testing.T) {
		// encoding/json drops a fraction's trailing zeros (and a bare dot): so must the SQL rendering.
		for i, at := range []string{"2026-01-02 03:04:05+00", "2026-01-02 03:04:05.1+00", "2026-01-02 03:04:05.12345+00",
			"2026-01-02 03:04:05.000001+00", "2026-01-02 03:04:05.999999+00", "1999-12-31 23:59:59.5-05"} {
			if _, err := db.Owner.Exec(t.Context(), `UPDATE horses SET created_at = $2 WHERE id = $1`, created["plain"].ID, at); err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("update-precision-%d", i)
			ctx, _ := recordedCall(store, w.tenantA, w.userA, "PATCH /horses/{id}", key, http.StatusOK, http.Header{})
			h, err := s.Update(ctx, w.principalA, created["plain"].ID, horse.UpdateRequest{Name: addr(key)})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, body := storedRecord(t, db, key); !bytes.Equal(body, writeJSON(h)) {
				t.Errorf("created_at %s: recorded body\n%s\nwant (httpapi.WriteJSON)\n%s", at, body, writeJSON(h))
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		victim, err := s.Create(context.Background(), w.principalA, horse.CreateRequest{Name: "Doomed", Sex: "mare"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, pending := recordedCall(store, w.tenantA, w.userA, "DELETE /horses/{id}", "delete", http.StatusNoContent, http.Header{})
		if err := s.Delete(ctx, w.principalA, victim.ID); err != nil {
			t.Fatal(err)
		}
		if got := pending.State(); got != idempotency.PendingRecorded {
			t.Errorf("pending state %v, want recorded", got)
		}
		status, code, header, body := storedRecord(t, db, "delete")
		if status != "completed" || code != http.StatusNoContent || len(header) != 0 || len(body) != 0 {
			t.Errorf("record %s %d %v %q, want completed 204 with no headers and no body", status, code, header, body)
		}
	})

	t.Run("a key already recorded writes nothing", func(t *testing.T) {
		ctx, pending := recordedCall(store, w.tenantA, w.userA, "POST /horses", "create-plain", http.StatusCreated, http.Header{})
		_, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Second", Sex: "mare", ID: uuid.NewString()})
		if !errors.Is(err, idempotency.ErrKeyRecorded) {
			t.Errorf("error %v, want ErrKeyRecorded", err)
		}
		if got := pending.State(); got != idempotency.PendingConflict {
			t.Errorf("pending state %v, want conflict", got)
		}
		var n int
		if err := db.Owner.QueryRow(t.Context(), `SELECT count(*) FROM horses WHERE name = 'Second'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("horses named Second: %d (%v), want 0", n, err)
		}
	})

	t.Run("no row, no record", func(t *testing.T) {
		ctx, pending := recordedCall(store, w.tenantA, w.userA, "POST /horses", "create-refused", http.StatusCreated, http.Header{})
		_, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Nobody's", Sex: "mare", OwnerUserID: addr(w.userB)})
		if !errors.Is(err, horse.ErrOwnerUserNotMember) {
			t.Errorf("error %v, want ErrOwnerUserNotMember", err)
		}
		ctx2, pending2 := recordedCall(store, w.tenantA, w.userA2, "PATCH /horses/{id}", "update-forbidden", http.StatusOK, http.Header{})
		if _, err := s.Update(ctx2, w.memberA2(), created["plain"].ID, horse.UpdateRequest{Name: addr("Taken")}); !errors.Is(err, horse.ErrForbidden) {
			t.Errorf("update by another member: %v, want ErrForbidden", err)
		}
		for _, p := range []*idempotency.Pending{pending, pending2} {
			if got := p.State(); got != idempotency.PendingIdle {
				t.Errorf("%s: pending state %v, want idle (nothing committed)", p.Key.Key, got)
			}
		}
		var n int
		if err := db.Owner.QueryRow(t.Context(), `SELECT count(*) FROM idempotency_keys WHERE key IN ('create-refused', 'update-forbidden')`).Scan(&n); err != nil || n != 0 {
			t.Errorf("records of refused writes: %d (%v), want 0", n, err)
		}
	})

	t.Run("without a declared response the lease rides as before", func(t *testing.T) {
		p := store.Pending(idempotency.Key{TenantID: w.tenantA, UserID: w.userA, Route: "POST /horses", Key: "undeclared"}, []byte("h"), 30*time.Second, time.Hour)
		if _, err := s.Create(idempotency.WithPending(context.Background(), p), w.principalA, horse.CreateRequest{Name: "Leased", Sex: "mare"}); err != nil {
			t.Fatal(err)
		}
		if got := p.State(); got != idempotency.PendingCommitted {
			t.Errorf("pending state %v, want committed (a lease, not a record)", got)
		}
		if status, _, _, _ := storedRecord(t, db, "undeclared"); status != "in_flight" {
			t.Errorf("record status %s, want in_flight until Complete", status)
		}
		// The lease row carries the token the request completes with.
		if p.Token == "" {
			t.Fatal("pending lease committed as a row without a token")
		}
		if err := store.Complete(t.Context(), p.Key, p.Token, idempotency.Record{Status: http.StatusCreated, Body: []byte("{}")}); err != nil {
			t.Errorf("Complete with the lease's token: %v", err)
		}
	})

	t.Run("a recorded write draws no lease token", func(t *testing.T) {
		ctx, p := recordedCall(store, w.tenantA, w.userA, "PATCH /horses/{id}", "tokenless", http.StatusOK, nil)
		name := "Tokenless"
		if _, err := s.Update(ctx, w.principalA, w.horseA, horse.UpdateRequest{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if got := p.State(); got != idempotency.PendingRecorded || p.Token != "" {
			t.Errorf("pending state %v, token %q; want recorded, no token", got, p.Token)
		}
	})
}

// A recorded write prepares its statement and takes the request's lease before it waits for a write
// connection; when it gets none (here: the request is cancelled), the lease is idle again, so the
// request's next write may still take it and record the response.
func TestRecordedWriteWithoutConnectionLeavesLeaseIdle(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	store := postgres.NewIdempotencyStore(db.App)
	in := horse.CreateRequest{ID: uuid.NewString(), Name: "Patient", Sex: "mare"}
	header := http.Header{"Content-Type": {"application/json"}, "Location": {"/horses/" + in.ID}}
	ctx, pending := recordedCall(store, w.tenantA, w.userA, "POST /horses", "no-connection", http.StatusCreated, header)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(cancelled, w.principalA, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("create without a connection: %v, want context.Canceled", err)
	}
	if got := pending.State(); got != idempotency.PendingIdle {
		t.Fatalf("lease after the failed write: %v, want idle", got)
	}

	h, err := s.Create(ctx, w.principalA, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := pending.State(); got != idempotency.PendingRecorded {
		t.Fatalf("lease after the write: %v, want recorded", got)
	}
	status, code, _, body := storedRecord(t, db, "no-connection")
	if status != "completed" || code != http.StatusCreated || !bytes.Equal(body, writeJSON(h)) {
		t.Fatalf("record: %s %d %s", status, code, body)
	}
}
