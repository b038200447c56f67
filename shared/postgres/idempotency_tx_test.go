package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// txRoute is a handler marked EffectsInTx whose effect is one insert into horses (named after the body),
// through a ReadWrite QueryRow or, with ?tx=1, through InTx. ?fail=4xx answers 409 after a write that
// rolls back; ?fail=5xx answers 500 after a committed write; ?fail=early answers 400 before writing.
type txRoute struct {
	db   *postgres.DB
	runs atomic.Int64

	mu      sync.Mutex
	lastErr error // of the last write
}

func (tr *txRoute) handler() http.Handler {
	return middleware.EffectsInTx(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.runs.Add(1)
		p, _ := auth.FromContext(r.Context())
		var body struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		fail := r.URL.Query().Get("fail")
		if fail == "early" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		const q = `INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, $2, $3) RETURNING id::text`
		var id string
		var err error
		if r.URL.Query().Get("tx") != "" || fail == "4xx" {
			err = tr.db.InTx(r.Context(), p, func(tx pgx.Tx) error {
				if err := tx.QueryRow(r.Context(), q, p.TenantID, body.Name, p.UserID).Scan(&id); err != nil {
					return err
				}
				if fail == "4xx" {
					return errors.New("refused")
				}
				return nil
			})
		} else {
			err = tr.db.QueryRow(r.Context(), p, postgres.ReadWrite, q, []any{p.TenantID, body.Name, p.UserID}, &id)
		}
		tr.mu.Lock()
		tr.lastErr = err
		tr.mu.Unlock()
		switch {
		case fail == "4xx":
			http.Error(w, "refused", http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case fail == "5xx":
			http.Error(w, "after the write", http.StatusInternalServerError)
		default:
			w.Header().Set("Location", "/horses/"+id)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":%q}`, id)
		}
	}))
}

type txFixture struct {
	db    *pgtest.DB
	w     world
	route *txRoute
	h     http.Handler
}

func newTxFixture(t *testing.T) *txFixture {
	t.Helper()
	db := pgtest.New(t)
	f := &txFixture{db: db, w: arrange(t, db.Owner), route: &txRoute{db: db.App}}
	store := postgres.NewIdempotencyStore(db.App)
	f.h = middleware.Idempotency(store, middleware.IdempotencyOptions{Route: "POST /things", TTL: time.Hour})(f.route.handler())
	return f
}

func (f *txFixture) post(t *testing.T, query, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/things"+query, strings.NewReader(body))
	r.Header.Set(middleware.IdempotencyKeyHeader, key)
	r = r.WithContext(auth.WithPrincipal(r.Context(), f.w.principalA))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

func (f *txFixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Owner.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *txFixture) horses(t *testing.T, name string) int {
	return f.count(t, `SELECT count(*) FROM horses WHERE name = $1`, name)
}

// The lease rides the handler's write: one run, the response stored, duplicates replayed, another payload
// refused, for a single statement and for InTx alike.
func TestIdempotencyLeaseInTx(t *testing.T) {
	t.Parallel()
	for _, query := range []string{"", "?tx=1"} {
		t.Run("query="+query, func(t *testing.T) {
			t.Parallel()
			f := newTxFixture(t)
			first := f.post(t, query, "k1", `{"name":"One"}`)
			if first.Code != http.StatusCreated || first.Header().Get(middleware.ReplayedHeader) != "" {
				t.Fatalf("first: %d %v", first.Code, first.Header())
			}
			// The lease committed with the insert and was completed: the record holds the response.
			if n := f.count(t, `SELECT count(*) FROM idempotency_keys WHERE key = 'k1' AND status = 'completed' AND response_status = 201`); n != 1 {
				t.Fatalf("completed records: %d", n)
			}
			again := f.post(t, query, "k1", `{"name":"One"}`)
			if again.Code != http.StatusCreated || again.Header().Get(middleware.ReplayedHeader) != "true" {
				t.Fatalf("replay: %d %v", again.Code, again.Header())
			}
			if diff := cmp.Diff(first.Body.String(), again.Body.String()); diff != "" || again.Header().Get("Location") != first.Header().Get("Location") {
				t.Fatalf("replay differs (-first +again):\n%s", diff)
			}
			if res := f.post(t, query, "k1", `{"name":"Other"}`); res.Code != http.StatusUnprocessableEntity {
				t.Fatalf("other payload: %d", res.Code)
			}
			if n := f.horses(t, "One"); n != 1 {
				t.Fatalf("%d horses One, want 1", n)
			}
			if n := f.horses(t, "Other"); n != 0 {
				t.Fatalf("the refused payload ran its effect: %d horses Other", n)
			}
			// The replay ran the handler, whose write conflicted and rolled back; the mismatch did too.
			if n := f.route.runs.Load(); n != 3 {
				t.Fatalf("handler ran %d times, want 3", n)
			}
		})
	}
}

// A duplicate of a request still in flight conflicts in its write, which rolls back, and gets 409.
func TestIdempotencyLeaseInTxInFlight(t *testing.T) {
	t.Parallel()
	f := newTxFixture(t)
	if res := f.post(t, "", "busy", `{"name":"Busy"}`); res.Code != http.StatusCreated {
		t.Fatalf("first: %d", res.Code)
	}
	// Make the record look like a request still running.
	if _, err := f.db.Owner.Exec(context.Background(), `UPDATE idempotency_keys SET status = 'in_flight',
		lease_token = gen_random_uuid(), lease_expires_at = now() + interval '1 minute', response_status = NULL
		WHERE key = 'busy'`); err != nil {
		t.Fatal(err)
	}
	res := f.post(t, "", "busy", `{"name":"Busy"}`)
	if res.Code != http.StatusConflict || res.Header().Get("Retry-After") == "" {
		t.Fatalf("duplicate in flight: %d %v", res.Code, res.Header())
	}
	if n := f.horses(t, "Busy"); n != 1 {
		t.Fatalf("%d horses Busy, want 1: the duplicate's effect committed", n)
	}
	// The handler saw its write fail with ErrKeyRecorded, which httpapi.WriteError does not log.
	f.route.mu.Lock()
	defer f.route.mu.Unlock()
	if !errors.Is(f.route.lastErr, idempotency.ErrKeyRecorded) {
		t.Errorf("the duplicate's write failed with %v, want one wrapping idempotency.ErrKeyRecorded", f.route.lastErr)
	}
}

// A 5xx after a committed write releases the lease (the retry runs again); a response without effect
// (refused before writing, or after a write that rolled back) is stored and replayed as before.
func TestIdempotencyLeaseInTxFailures(t *testing.T) {
	t.Parallel()
	f := newTxFixture(t)
	if res := f.post(t, "?fail=5xx", "k5", `{"name":"Five"}`); res.Code != http.StatusInternalServerError {
		t.Fatalf("5xx: %d", res.Code)
	}
	if n := f.count(t, `SELECT count(*) FROM idempotency_keys WHERE key = 'k5'`); n != 0 {
		t.Fatalf("a 5xx left %d records", n)
	}
	for _, fail := range []string{"early", "4xx"} {
		key := "k-" + fail
		first := f.post(t, "?fail="+fail, key, `{"name":"Four"}`)
		if first.Code >= 500 {
			t.Fatalf("%s: %d", fail, first.Code)
		}
		again := f.post(t, "?fail="+fail, key, `{"name":"Four"}`)
		if again.Code != first.Code || again.Header().Get(middleware.ReplayedHeader) != "true" {
			t.Fatalf("%s: replay %d %v, want %d replayed", fail, again.Code, again.Header(), first.Code)
		}
	}
	if n := f.horses(t, "Four"); n != 0 {
		t.Fatalf("a rolled-back write committed: %d", n)
	}
}

// Concurrent identical requests: exactly one effect, every answer a success, a replay or a 409.
func TestIdempotencyLeaseInTxConcurrent(t *testing.T) {
	t.Parallel()
	f := newTxFixture(t)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = f.post(t, "", "same", `{"name":"Same"}`).Code })
	}
	wg.Wait()
	for _, c := range codes {
		if c != http.StatusCreated && c != http.StatusConflict {
			t.Fatalf("codes %v", codes)
		}
	}
	if n := f.horses(t, "Same"); n != 1 {
		t.Fatalf("%d effects, want 1 (codes %v)", n, codes)
	}
}

// The horse.created payload built in SQL is what encoding/json makes of the created horse, once stored as
// jsonb (as outbox.Add stores it).
func TestHorseCreateEventPayload(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()
	for _, in := range []horse.CreateRequest{
		{Name: "Plain", Sex: "mare"},
		{Name: "Full", Sex: "gelding", Breed: addr("Arabian"), Color: addr("bay"), BirthYear: addr(2015), Discipline: addr(""),
			Description: addr("quotes \" and ünïcode"), OwnerUserID: addr(w.userA), OwnerBusinessID: addr(w.businessA)},
	} {
		h, err := s.Create(ctx, w.principalA, in)
		if err != nil {
			t.Fatal(err)
		}
		goJSON, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var stored, want string
		if err := db.Owner.QueryRow(ctx, `SELECT payload::text, $2::jsonb::text FROM outbox WHERE payload->>'id' = $1`, h.ID, goJSON).Scan(&stored, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("%s: payload (-encoding/json +SQL):\n%s", in.Name, diff)
		}
	}
}

// ExecCombined: concurrent callers all get their own outcome; a failing statement fails only its caller.
func TestExecCombined(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	const rename = `UPDATE horses SET name = $2 WHERE id = $1`
	var wg sync.WaitGroup
	errs := make([]error, 20)
	rows := make([]int64, 20)
	for i := range errs {
		wg.Go(func() {
			switch {
			case i == 7: // fails: the name is too long for the column's check
				rows[i], errs[i] = db.App.ExecCombined(ctx, w.principalA, rename, w.horseA, strings.Repeat("x", 300))
			case i%2 == 0:
				rows[i], errs[i] = db.App.ExecCombined(ctx, w.principalA, rename, w.horseA, "A")
			default: // tenant B's horse is invisible to A, its own is not
				rows[i], errs[i] = db.App.ExecCombined(ctx, w.principalB, rename, w.horseA, "B")
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 7:
			if err == nil {
				t.Errorf("%d: the failing statement succeeded", i)
			}
		case err != nil:
			t.Errorf("%d: %v", i, err)
		case i%2 == 0 && rows[i] != 1, i%2 == 1 && rows[i] != 0:
			t.Errorf("%d: %d rows", i, rows[i])
		}
	}
	if got := horseName(t, db.Owner, w.horseA); got != "A" {
		t.Fatalf("horse A is named %q", got)
	}
}

// Statements queued by ExecCombined ride the next single-statement write: they run ahead of it in its
// batch and transaction (the write sees their effect, in its own transaction id) and their callers get
// their outcome without a round trip of their own. A carried statement that fails fails only its caller,
// and a write that fails does not take the carried statements with it.
func TestExecCombinedRidesTheNextWrite(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	const (
		rename = `UPDATE horses SET name = $2 WHERE id = $1`
		// The write: the horse's name, and whether its row version is this transaction's.
		read = `SELECT name, xmin = pg_current_xact_id()::xid FROM horses WHERE id = $1`
	)

	t.Run("carried", func(t *testing.T) {
		waitA := db.App.EnqueueCombined(ctx, w.principalA, rename, w.horseA, "ridden A")
		waitB := db.App.EnqueueCombined(ctx, w.principalB, rename, w.horseB, "ridden B")
		var name string
		var sameTx bool
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadWrite, read, []any{w.horseA}, &name, &sameTx); err != nil {
			t.Fatal(err)
		}
		if name != "ridden A" || !sameTx {
			t.Errorf("the write read %q (same transaction: %v); want the carried rename in its own transaction", name, sameTx)
		}
		for _, c := range []struct {
			wait func() (int64, error)
			who  string
		}{{waitA, "A"}, {waitB, "B"}} {
			if n, err := c.wait(); err != nil || n != 1 {
				t.Errorf("carried statement of %s: %d rows, %v; want 1, nil", c.who, n, err)
			}
		}
		if got := horseName(t, db.Owner, w.horseB); got != "ridden B" {
			t.Errorf("horse B is named %q; the carried statement of tenant B did not commit", got)
		}
	})

	t.Run("a carried statement fails", func(t *testing.T) {
		waitBad := db.App.EnqueueCombined(ctx, w.principalA, rename, w.horseA, strings.Repeat("x", 300))
		waitOK := db.App.EnqueueCombined(ctx, w.principalB, rename, w.horseB, "still B")
		var name string
		var sameTx bool
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadWrite, read, []any{w.horseA}, &name, &sameTx); err != nil {
			t.Fatalf("the write failed with the carried statement: %v", err)
		}
		if _, err := waitBad(); err == nil {
			t.Error("the failing carried statement succeeded")
		}
		if n, err := waitOK(); err != nil || n != 1 {
			t.Errorf("the other carried statement: %d rows, %v; want 1, nil", n, err)
		}
		if got := horseName(t, db.Owner, w.horseB); got != "still B" {
			t.Errorf("horse B is named %q", got)
		}
	})

	t.Run("the write fails", func(t *testing.T) {
		wait := db.App.EnqueueCombined(ctx, w.principalA, rename, w.horseA, "after a failed write")
		err := db.App.QueryRow(ctx, w.principalA, postgres.ReadWrite, `SELECT 1/0`, nil, new(int))
		if err == nil {
			t.Fatal("division by zero succeeded")
		}
		if n, err := wait(); err != nil || n != 1 {
			t.Errorf("carried statement: %d rows, %v; want 1, nil", n, err)
		}
		if got := horseName(t, db.Owner, w.horseA); got != "after a failed write" {
			t.Errorf("horse A is named %q; the carried statement was lost with the failed write", got)
		}
	})

	t.Run("reads carry nothing", func(t *testing.T) {
		wait := db.App.EnqueueCombined(ctx, w.principalA, rename, w.horseA, "not by a read")
		var name string
		var sameTx bool
		if err := db.App.QueryRow(ctx, w.principalA, postgres.ReadOnly, `SELECT name, false FROM horses WHERE id = $1`, []any{w.horseA}, &name, &sameTx); err != nil {
			t.Fatal(err)
		}
		if name == "not by a read" {
			t.Error("a read-only statement carried a write")
		}
		if n, err := wait(); err != nil || n != 1 {
			t.Errorf("statement sent by its own caller: %d rows, %v; want 1, nil", n, err)
		}
	})
}

// A write that carries other callers' statements is not cut short by its own caller's cancellation (a
// client that went away): the statements it carries belong to requests that are still waiting for them.
func TestExecCombinedCarrierCancelled(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	wait := db.App.EnqueueCombined(ctx, w.principalA, `UPDATE horses SET name = $2 WHERE id = $1`, w.horseA, "carried through a cancel")
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	// The carrier outlives its context: it runs to its end or fails, either way not for the carried one.
	_ = db.App.QueryRow(short, w.principalA, postgres.ReadWrite, `SELECT pg_sleep(0.5)::text`, nil, new(string))
	if n, err := wait(); err != nil || n != 1 {
		t.Fatalf("carried statement: %d rows, %v; want 1, nil", n, err)
	}
	if got := horseName(t, db.Owner, w.horseA); got != "carried through a cancel" {
		t.Errorf("horse A is named %q", got)
	}
}
