package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/syncbuf"
)

// testTimeout bounds every wait in these tests; reaching it means a hang, not slowness.
const testTimeout = 30 * time.Second

// fixture is one test's database and a Writer on the real Postgres sink.
type fixture struct {
	db   *pgtest.DB
	w    *audit.Writer
	logs *syncbuf.Buffer
}

func newFixture(tb testing.TB, queueSize int) *fixture {
	tb.Helper()
	db := pgtest.New(tb)
	logs := &syncbuf.Buffer{}
	w := audit.NewWriter(postgres.NewAuditSink(db.App), slog.New(slog.NewJSONHandler(logs, nil)), queueSize)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return &fixture{db: db, w: w, logs: logs}
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// tenant inserts a tenant through the owner pool and returns its id.
func (f *fixture) tenant(tb testing.TB, name string) string {
	tb.Helper()
	var id string
	err := f.db.Owner.QueryRow(testContext(tb), `INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id::text`,
		name, name+"-"+uuid.NewString()).Scan(&id)
	if err != nil {
		tb.Fatalf("insert tenant: %v", err)
	}
	return id
}

func (f *fixture) flush(tb testing.TB) {
	tb.Helper()
	if err := f.w.Flush(testContext(tb)); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
}

// row is an audit_events row as the owner (who bypasses row-level security) reads it.
type row struct {
	TenantID, UserID, Kind, IP, Route, RequestID string
	Detail                                       map[string]any
	At                                           time.Time
	Txn                                          string // xmin: rows written by one statement share it
}

func (f *fixture) rows(tb testing.TB) []row {
	tb.Helper()
	rs, err := f.db.Owner.Query(testContext(tb), `
		SELECT coalesce(tenant_id::text, ''), user_id, kind, coalesce(host(ip), ''), coalesce(route, ''),
		       coalesce(request_id, ''), detail, occurred_at, xmin::text
		FROM audit_events ORDER BY request_id, occurred_at`)
	if err != nil {
		tb.Fatalf("read audit_events: %v", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.TenantID, &r.UserID, &r.Kind, &r.IP, &r.Route, &r.RequestID, &r.Detail, &r.At, &r.Txn); err != nil {
			tb.Fatalf("scan audit row: %v", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		tb.Fatalf("read audit_events: %v", err)
	}
	return out
}

// holdInserts takes a lock on audit_events that makes every INSERT wait, so the Writer's loop blocks inside
// the real sink. The returned function releases the lock; it is also released at cleanup.
func (f *fixture) holdInserts(tb testing.TB) (release func()) {
	tb.Helper()
	ctx := testContext(tb)
	tx, err := f.db.Owner.Begin(ctx)
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		tb.Fatalf("lock audit_events: %v", err)
	}
	release = sync.OnceFunc(func() {
		if err := tx.Rollback(context.Background()); err != nil {
			tb.Errorf("release lock: %v", err)
		}
	})
	tb.Cleanup(release)
	return release
}

// waitForBlockedInsert waits until a session of this test's database waits for a lock: the Writer's loop
// is then inside the sink and has taken its batch off the queue.
func (f *fixture) waitForBlockedInsert(tb testing.TB) {
	tb.Helper()
	ctx := testContext(tb)
	for {
		var waiting int
		err := f.db.Owner.QueryRow(ctx, `
			SELECT count(*) FROM pg_locks
			WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		if err != nil {
			tb.Fatalf("waiting for the blocked insert: %v", err)
		}
		if waiting > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inFlight holds inserts (holdInserts), records e and returns once the Writer's loop is blocked writing
// it: e is in flight and the queue is empty. release lets the insert go on.
func (f *fixture) inFlight(tb testing.TB, e audit.Event) (release func()) {
	tb.Helper()
	release = f.holdInserts(tb)
	f.w.Record(e)
	f.waitForBlockedInsert(tb)
	return release
}

func wantStats(tb testing.TB, w *audit.Writer, want audit.Stats) {
	tb.Helper()
	if diff := cmp.Diff(want, w.Stats()); diff != "" {
		tb.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestWriterWritesRowsGroupedByTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	a, b := f.tenant(t, "a"), f.tenant(t, "b")
	at := time.Now().UTC().Truncate(time.Microsecond)

	// Hold the loop on a first event, so that everything recorded next is written as one batch.
	release := f.inFlight(t, audit.Event{Kind: "test.primer", RequestID: "r0", At: at})

	events := []audit.Event{
		{TenantID: a, UserID: "u1", Kind: audit.KindRateLimited, IP: "203.0.113.7", Route: "GET /horses", RequestID: "r1", At: at,
			Detail: map[string]any{"policy": "tenant", "limit": 100}},
		{TenantID: b, UserID: "u2", Kind: audit.KindRateLimited, IP: "2001:db8::1", Route: "POST /horses", RequestID: "r2", At: at},
		{Kind: audit.KindAuthFailed, IP: "198.51.100.9", Route: "GET /me", RequestID: "r3", At: at,
			Detail: map[string]any{"reason": "expired"}},
		{TenantID: a, UserID: "u1", Kind: audit.KindRateLimitDown, Route: "GET /horses/1", RequestID: "r4", At: at},
		{TenantID: b, Kind: audit.KindRateLimited, RequestID: "r5", At: at},
		{Kind: audit.KindAuthFailed, RequestID: "r6", At: at},
	}
	for _, e := range events {
		f.w.Record(e)
	}
	release()
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: uint64(len(events)) + 1})

	got := f.rows(t)
	want := []row{
		{Kind: "test.primer", RequestID: "r0", Detail: map[string]any{}, At: at},
		{TenantID: a, UserID: "u1", Kind: audit.KindRateLimited, IP: "203.0.113.7", Route: "GET /horses", RequestID: "r1", At: at,
			Detail: map[string]any{"policy": "tenant", "limit": float64(100)}},
		{TenantID: b, UserID: "u2", Kind: audit.KindRateLimited, IP: "2001:db8::1", Route: "POST /horses", RequestID: "r2", At: at, Detail: map[string]any{}},
		{Kind: audit.KindAuthFailed, IP: "198.51.100.9", Route: "GET /me", RequestID: "r3", At: at, Detail: map[string]any{"reason": "expired"}},
		{TenantID: a, UserID: "u1", Kind: audit.KindRateLimitDown, Route: "GET /horses/1", RequestID: "r4", At: at, Detail: map[string]any{}},
		{TenantID: b, Kind: audit.KindRateLimited, RequestID: "r5", At: at, Detail: map[string]any{}},
		{Kind: audit.KindAuthFailed, RequestID: "r6", At: at, Detail: map[string]any{}},
	}
	ignoreTxn := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Txn" }, cmp.Ignore())
	if diff := cmp.Diff(want, got, ignoreTxn); diff != "" {
		t.Fatalf("audit_events (-want +got):\n%s", diff)
	}

	// One statement per tenant: rows of a tenant share a transaction, different tenants do not.
	txnOf := map[string]string{}
	for _, r := range got[1:] {
		if prev, ok := txnOf[r.TenantID]; ok && prev != r.Txn {
			t.Errorf("tenant %q written by several statements (%s, %s)", r.TenantID, prev, r.Txn)
		}
		txnOf[r.TenantID] = r.Txn
	}
	seen := map[string]string{}
	for tenant, txn := range txnOf {
		if other, ok := seen[txn]; ok {
			t.Errorf("tenants %q and %q written by one statement", other, tenant)
		}
		seen[txn] = tenant
	}
	if len(txnOf) != 3 {
		t.Errorf("rows came in %d tenant groups, want 3 (a, b, none)", len(txnOf))
	}
}

func TestWriterStampsEventsWithoutTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	before := time.Now()
	f.w.Record(audit.Event{Kind: audit.KindAuthFailed, RequestID: "r1"})
	f.flush(t)
	after := time.Now()
	got := f.rows(t)
	if len(got) != 1 {
		t.Fatalf("%d rows, want 1", len(got))
	}
	if at := got[0].At; at.Before(before.Truncate(time.Microsecond)) || at.After(after) {
		t.Errorf("occurred_at = %v, want the time of Record (between %v and %v)", at, before, after)
	}
}

func TestWriterDropsAndCountsWhenQueueIsFull(t *testing.T) {
	t.Parallel()
	const queueSize, extra = 4, 3
	f := newFixture(t, queueSize)
	release := f.inFlight(t, audit.Event{Kind: "test.primer", RequestID: "r00"}) // the queue is empty

	for i := range queueSize + extra {
		f.w.Record(audit.Event{Kind: audit.KindAuthFailed, RequestID: "r" + string(rune('a'+i))})
	}
	wantStats(t, f.w, audit.Stats{Dropped: extra})

	release()
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: queueSize + 1, Dropped: extra})
	var ids []string
	for _, r := range f.rows(t) {
		ids = append(ids, r.RequestID)
	}
	if diff := cmp.Diff([]string{"r00", "ra", "rb", "rc", "rd"}, ids); diff != "" {
		t.Errorf("written request ids (-want +got); the first ones queued must be kept:\n%s", diff)
	}
}

func TestWriterFlushHonoursContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	release := f.inFlight(t, audit.Event{Kind: audit.KindAuthFailed, RequestID: "r1"})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.w.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with a cancelled context = %v, want context.Canceled", err)
	}
	release()
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: 1})
}

func TestWriterCloseFlushes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := audit.NewWriter(postgres.NewAuditSink(db.App), slog.New(slog.DiscardHandler), 0)
	f := &fixture{db: db, w: w}
	tenant := f.tenant(t, "a")
	const n = 250 // more than one batch
	for i := range n {
		e := audit.Event{Kind: audit.KindRateLimited, RequestID: uuid.NewString()}
		if i%2 == 0 {
			e.TenantID = tenant
		}
		w.Record(e)
	}
	if err := w.Close(testContext(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantStats(t, w, audit.Stats{Written: n})
	if got := len(f.rows(t)); got != n {
		t.Errorf("%d rows after Close, want %d", got, n)
	}

	// After Close nothing is written: the event is dropped and counted.
	w.Record(audit.Event{Kind: audit.KindAuthFailed, RequestID: "late"})
	if err := w.Flush(testContext(t)); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	if err := w.Close(testContext(t)); err != nil {
		t.Errorf("second Close: %v", err)
	}
	wantStats(t, w, audit.Stats{Written: n, Dropped: 1})
	if got := len(f.rows(t)); got != n {
		t.Errorf("%d rows after a late Record, want %d", got, n)
	}
}

// A Close that runs out of time counts the events still queued as dropped, and lets the batch in flight
// finish.
func TestWriterCloseOutOfTimeCountsQueuedAsDropped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	release := f.inFlight(t, audit.Event{Kind: audit.KindAuthFailed, RequestID: "in-flight"})
	f.w.Record(audit.Event{Kind: audit.KindAuthFailed, RequestID: "queued-1"})
	f.w.Record(audit.Event{Kind: audit.KindAuthFailed, RequestID: "queued-2"})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.w.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close while an insert is held = %v, want context.DeadlineExceeded", err)
	}
	wantStats(t, f.w, audit.Stats{Dropped: 2})

	release()
	deadline := time.Now().Add(testTimeout)
	for f.w.Stats().Written == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	wantStats(t, f.w, audit.Stats{Written: 1, Dropped: 2})
	var ids []string
	for _, r := range f.rows(t) {
		ids = append(ids, r.RequestID)
	}
	if diff := cmp.Diff([]string{"in-flight"}, ids); diff != "" {
		t.Errorf("written request ids (-want +got):\n%s", diff)
	}
}

func TestWriterCountsAndLogsFailedWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	a, b := f.tenant(t, "a"), f.tenant(t, "b")

	// An IP PostgreSQL cannot read as inet fails its tenant's INSERT, and only that one.
	f.w.Record(audit.Event{TenantID: a, Kind: audit.KindRateLimited, IP: "not-an-ip", RequestID: "bad"})
	f.w.Record(audit.Event{TenantID: b, Kind: audit.KindRateLimited, IP: "192.0.2.1", RequestID: "other-tenant"})
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: 1, Failed: 1})
	logs := f.logs.String()
	if !strings.Contains(logs, "audit write failed") || !strings.Contains(logs, "inet") {
		t.Errorf("the failure was not logged with its cause; log:\n%s", logs)
	}

	// The writer carries on.
	f.w.Record(audit.Event{TenantID: a, Kind: audit.KindRateLimited, IP: "192.0.2.2", RequestID: "later"})
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: 2, Failed: 1})
	var ids []string
	for _, r := range f.rows(t) {
		ids = append(ids, r.RequestID)
	}
	if diff := cmp.Diff([]string{"later", "other-tenant"}, ids); diff != "" {
		t.Errorf("written request ids (-want +got):\n%s", diff)
	}
}

func TestDetailJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    map[string]any
		want string
	}{
		{"nil", nil, "{}"},
		{"empty", map[string]any{}, "{}"},
		{"values", map[string]any{"reason": "expired", "n": 2, "ok": true}, `{"n":2,"ok":true,"reason":"expired"}`},
		{"unencodable", map[string]any{"x": math.Inf(1)}, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(audit.DetailJSON(tt.d)); got != tt.want {
				t.Errorf("DetailJSON = %s, want %s", got, tt.want)
			}
		})
	}
}

// Flush waits for an event the loop is writing, not only for the queued ones: a function flushes before
// its response goes back, and an event half-written when the environment is frozen would be lost.
func TestWriterFlushWaitsForTheEventInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	release := f.inFlight(t, audit.Event{Kind: audit.KindAuthFailed, RequestID: "r1"})
	if n := f.w.Pending(); n != 1 {
		t.Errorf("Pending while the insert is held = %d, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush while the insert is held = %v, want it to wait until its deadline", err)
	}
	release()
	f.flush(t)
	wantStats(t, f.w, audit.Stats{Written: 1})
	if n := f.w.Pending(); n != 0 {
		t.Errorf("Pending after the flush = %d, want 0", n)
	}
	if got := len(f.rows(t)); got != 1 {
		t.Errorf("%d rows after Flush, want 1", got)
	}
}
