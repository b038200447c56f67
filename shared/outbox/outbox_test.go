package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/sqsx"
)

// fixture is one test's database (two tenants) and two queues on the SQS server.
type fixture struct {
	db      *pgtest.DB
	sqs     *sqsx.Client
	queues  map[string]string // "jobs" and "events"
	pub     *sqsx.Publisher
	tenantA string
	tenantB string
}

func setup(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{db: pgtest.New(t), sqs: newClient(sqsEndpoint(t))}
	f.queues = map[string]string{"jobs": newQueue(t, f.sqs), "events": newQueue(t, f.sqs)}
	f.pub = sqsx.NewPublisher(f.sqs, f.queues)
	f.tenantA, f.tenantB = f.tenant(t, "a"), f.tenant(t, "b")
	return f
}

func (f *fixture) tenant(t testing.TB, name string) string {
	t.Helper()
	var id string
	err := f.db.Owner.QueryRow(context.Background(),
		`INSERT INTO tenants (name, slug) VALUES ($1, $1 || '-' || gen_random_uuid()) RETURNING id::text`, name).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// add writes entries in one transaction of tenant (as corral_app) and returns their ids.
func (f *fixture) add(t testing.TB, tenant string, entries ...outbox.Entry) []string {
	t.Helper()
	ids := make([]string, len(entries))
	err := f.db.App.InTx(context.Background(), auth.Principal{TenantID: tenant}, func(tx pgx.Tx) error {
		for i, e := range entries {
			if e.ID == "" {
				e.ID = uuid.NewString()
			}
			e.TenantID = tenant
			ids[i] = e.ID
			if err := outbox.Add(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (f *fixture) count(t testing.TB, where string) int {
	t.Helper()
	var n int
	if err := f.db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE `+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func idsOf(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Env.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Entries of two tenants and of no tenant, for two queues, committed in many transactions, are published
// by the relay (as corral_maint) in the order they were added, each exactly once, with their envelope.
func TestRelayPublishesCommittedEntriesInOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var all, jobs, events []string
	for i := range 24 {
		tenant := []string{f.tenantA, f.tenantB, ""}[i%3]
		queue := "jobs"
		if i%4 == 3 {
			queue = "events"
		}
		id := f.add(t, tenant, outbox.Entry{Queue: queue, Kind: "test.kind", Payload: map[string]int{"i": i}})[0]
		all = append(all, id)
		if queue == "jobs" {
			jobs = append(jobs, id)
		} else {
			events = append(events, id)
		}
	}
	rec := &recorder{next: f.pub}
	relay := outbox.NewRelay(f.db.Maint, rec, discard(), outbox.RelayOptions{Batch: 5})
	n, err := relay.Run(ctx)
	if err != nil || n != len(all) {
		t.Fatalf("Run = %d, %v; want %d, nil", n, err, len(all))
	}
	if diff := cmp.Diff(all, rec.ids()); diff != "" {
		t.Errorf("send order differs from the order added (-want +got):\n%s", diff)
	}
	if got := f.count(t, "published_at IS NULL"); got != 0 {
		t.Errorf("%d rows still pending", got)
	}
	if n, err := relay.Run(ctx); n != 0 || err != nil {
		t.Errorf("second Run = %d, %v; want 0, nil", n, err)
	}

	gotJobs := drain(t, f.sqs, f.queues["jobs"], len(jobs))
	gotJobs = append(gotJobs, drain(t, f.sqs, f.queues["jobs"], 0)...)
	if diff := cmp.Diff(sorted(jobs), sorted(idsOf(gotJobs))); diff != "" {
		t.Errorf("jobs queue (-want +got):\n%s", diff)
	}
	gotEvents := drain(t, f.sqs, f.queues["events"], len(events))
	if diff := cmp.Diff(sorted(events), sorted(idsOf(gotEvents))); diff != "" {
		t.Errorf("events queue (-want +got):\n%s", diff)
	}
	// The envelope of the first entry (tenant A, i = 0).
	first := gotJobs[slices.IndexFunc(gotJobs, func(r received) bool { return r.Env.ID == all[0] })]
	if first.CorralID != all[0] || first.Kind != "test.kind" || first.Env.Kind != "test.kind" || first.Env.TenantID != f.tenantA {
		t.Errorf("message = %+v", first)
	}
	var payload map[string]int
	if err := json.Unmarshal(first.Env.Payload, &payload); err != nil || payload["i"] != 0 || first.Env.CreatedAt.IsZero() {
		t.Errorf("payload %s (%v), created_at %v", first.Env.Payload, err, first.Env.CreatedAt)
	}
	// An entry of no tenant has no tenant_id.
	third := gotJobs[slices.IndexFunc(gotJobs, func(r received) bool { return r.Env.ID == all[2] })]
	if third.Env.TenantID != "" {
		t.Errorf("tenantless entry carries tenant %q", third.Env.TenantID)
	}
}

// An entry exists only if its transaction commits: a rolled-back Add leaves nothing, and an uncommitted
// one is invisible to the relay.
func TestOutboxFollowsItsTransaction(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	relay := outbox.NewRelay(f.db.Maint, f.pub, discard(), outbox.RelayOptions{})
	p := auth.Principal{TenantID: f.tenantA}

	boom := errors.New("the change failed")
	err := f.db.App.InTx(ctx, p, func(tx pgx.Tx) error {
		if err := outbox.Add(ctx, tx, outbox.Entry{Queue: "jobs", Kind: "rolled.back", TenantID: f.tenantA}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if n := f.count(t, "true"); n != 0 {
		t.Fatalf("%d outbox rows after a rollback, want 0", n)
	}

	committed := make(chan struct{})
	added := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := f.db.App.InTx(ctx, p, func(tx pgx.Tx) error {
			if err := outbox.Add(ctx, tx, outbox.Entry{Queue: "jobs", Kind: "committed.later", TenantID: f.tenantA}); err != nil {
				return err
			}
			close(added)
			<-committed
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-added
	if n, err := relay.PublishPending(ctx, 10); n != 0 || err != nil {
		t.Errorf("relay during the transaction = %d, %v; want 0, nil", n, err)
	}
	close(committed)
	wg.Wait()
	if n, err := relay.PublishPending(ctx, 10); n != 1 || err != nil {
		t.Errorf("relay after the commit = %d, %v; want 1, nil", n, err)
	}
	got := drain(t, f.sqs, f.queues["jobs"], 0)
	if len(got) != 1 || got[0].Env.Kind != "committed.later" {
		t.Errorf("queue holds %+v, want only the committed entry", got)
	}
}

func TestPublishNow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ob := outbox.New(f.db.App, f.pub, discard(), outbox.Options{})

	now := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "now"})[0]
	soon := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "soon", Delay: time.Second})[0]
	later := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "later", Delay: time.Hour})[0]
	other := f.add(t, f.tenantB, outbox.Entry{Queue: "jobs", Kind: "other tenant"})[0]

	tests := []struct {
		name    string
		tenant  string
		ids     []string
		want    int
		pending []string // still pending afterwards
	}{
		{"published at once", f.tenantA, []string{now}, 1, nil},
		{"again: already published", f.tenantA, []string{now}, 0, nil},
		{"a short delay becomes the SQS delay", f.tenantA, []string{soon}, 1, nil},
		{"a long delay waits for the relay", f.tenantA, []string{later}, 0, []string{later}},
		{"another tenant's entry is invisible", f.tenantA, []string{other}, 0, []string{other}},
		{"no ids", f.tenantA, nil, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ob.PublishNow(ctx, tc.tenant, tc.ids...)
			if n != tc.want || err != nil {
				t.Fatalf("PublishNow = %d, %v; want %d, nil", n, err, tc.want)
			}
			for _, id := range tc.pending {
				if f.count(t, "published_at IS NULL AND id = '"+id+"'") != 1 {
					t.Errorf("%s is not pending", id)
				}
			}
		})
	}
	got := drain(t, f.sqs, f.queues["jobs"], 2)
	if diff := cmp.Diff(sorted([]string{now, soon}), sorted(idsOf(got))); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
	// The relay publishes what PublishNow left and is due (the other tenant's entry), not the delayed one.
	relay := outbox.NewRelay(f.db.Maint, f.pub, discard(), outbox.RelayOptions{})
	if n, err := relay.Run(ctx); n != 1 || err != nil {
		t.Errorf("relay = %d, %v; want 1, nil", n, err)
	}
}

// The outbox survives an unreachable SQS server: sends fail, rows stay pending with the failure
// recorded, and once the server is back every entry is delivered, none lost, none twice.
func TestOutboxSurvivesStoppedSQS(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	px, pub := proxiedPublisher(t, f.queues)
	opts := outbox.Options{RetryBase: time.Millisecond, RetryMax: time.Millisecond}
	relay := outbox.NewRelay(f.db.Maint, pub, discard(), outbox.RelayOptions{Options: opts, Batch: 10})
	ob := outbox.New(f.db.App, pub, discard(), opts)

	px.stop()
	var want []string
	for i := range 30 {
		want = append(want, f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "survivor", Payload: i})...)
	}
	if n, err := ob.PublishNow(ctx, f.tenantA, want[:10]...); n != 0 || err == nil {
		t.Fatalf("PublishNow with SQS down = %d, %v; want 0 and an error", n, err)
	}
	if n, err := relay.Run(ctx); n != 0 || err == nil {
		t.Fatalf("relay with SQS down = %d, %v; want 0 and an error", n, err)
	}
	if got := f.count(t, "published_at IS NULL"); got != len(want) {
		t.Fatalf("%d rows pending, want %d", got, len(want))
	}
	if got := f.count(t, "attempts > 0 AND last_error <> ''"); got == 0 {
		t.Error("no failed attempt was recorded")
	}

	px.restart()
	published := 0
	for deadline := time.Now().Add(20 * time.Second); published < len(want) && time.Now().Before(deadline); {
		n, err := relay.Run(ctx)
		if err != nil {
			t.Fatalf("relay after restart: %v", err)
		}
		published += n
		if n == 0 {
			time.Sleep(10 * time.Millisecond) // the failed rows' short backoff
		}
	}
	if published != len(want) {
		t.Fatalf("published %d after restart, want %d", published, len(want))
	}
	got := drain(t, f.sqs, f.queues["jobs"], len(want))
	got = append(got, drain(t, f.sqs, f.queues["jobs"], 0)...)
	if diff := cmp.Diff(sorted(want), sorted(idsOf(got))); diff != "" {
		t.Errorf("delivered after restart (-want +got):\n%s", diff)
	}
}

// An entry that can never be sent (its queue is unknown) does not hold up the others: it is pushed back
// with its error recorded, and the next run sends what follows it.
func TestFailingEntryDoesNotBlockTheOthers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	relay := outbox.NewRelay(f.db.Maint, f.pub, discard(), outbox.RelayOptions{})
	poison := f.add(t, f.tenantA, outbox.Entry{Queue: "nowhere", Kind: "lost"})[0]
	good := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "a"}, outbox.Entry{Queue: "jobs", Kind: "b"})

	n, err := relay.Run(ctx)
	if n != 0 || !errors.Is(err, sqsx.ErrUnknownQueue) {
		t.Fatalf("first run = %d, %v; want 0 and ErrUnknownQueue", n, err)
	}
	if n, err := relay.Run(ctx); n != 2 || err != nil {
		t.Fatalf("second run = %d, %v; want 2, nil", n, err)
	}
	var attempts int
	var lastError string
	var wait float64
	err = f.db.Owner.QueryRow(ctx, `SELECT attempts, last_error, extract(epoch FROM deliver_after - now())::float8 FROM outbox WHERE id = $1 AND published_at IS NULL`, poison).
		Scan(&attempts, &lastError, &wait)
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || !strings.Contains(lastError, "unknown queue") || wait <= 0 {
		t.Errorf("poison row: attempts %d, last_error %q, due in %.1fs", attempts, lastError, wait)
	}
	got := drain(t, f.sqs, f.queues["jobs"], 2)
	if diff := cmp.Diff(sorted(good), sorted(idsOf(got))); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
}

// Relays running at once (overlapping scheduled runs) skip each other's locked rows: every row is sent
// exactly once.
func TestConcurrentRelaysSendEachRowOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const rows = 120
	if _, err := f.db.Owner.Exec(ctx, `
INSERT INTO outbox (tenant_id, queue, kind, payload)
SELECT $1, 'jobs', 'bulk', jsonb_build_object('i', i) FROM generate_series(1, $2) i`, f.tenantA, rows); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: f.pub}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			n, err := outbox.NewRelay(f.db.Maint, rec, discard(), outbox.RelayOptions{Batch: 10}).Run(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	sent := rec.ids()
	if total != rows || len(sent) != rows || len(slices.Compact(sorted(sent))) != rows {
		t.Fatalf("published %d, sent %d (%d distinct); want %d each", total, len(sent), len(slices.Compact(sorted(sent))), rows)
	}
	if got := drain(t, f.sqs, f.queues["jobs"], rows); len(got) != rows {
		t.Errorf("queue holds %d, want %d", len(got), rows)
	}
}

func TestAddRejectsInvalidEntries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		e    outbox.Entry
	}{
		{"no queue", outbox.Entry{Kind: "k"}},
		{"no kind", outbox.Entry{Queue: "jobs"}},
		{"id not a UUID", outbox.Entry{ID: "42", Queue: "jobs", Kind: "k"}},
		{"tenant not a UUID", outbox.Entry{Queue: "jobs", Kind: "k", TenantID: "acme"}},
		{"payload does not marshal", outbox.Entry{Queue: "jobs", Kind: "k", Payload: func() {}}},
		{"raw payload not JSON", outbox.Entry{Queue: "jobs", Kind: "k", Payload: json.RawMessage(`{`)}},
		{"payload too large", outbox.Entry{Queue: "jobs", Kind: "k", Payload: strings.Repeat("x", outbox.MaxPayloadBytes)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.db.App.InTx(ctx, auth.Principal{}, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, tc.e) })
			if !errors.Is(err, outbox.ErrInvalid) {
				t.Fatalf("Add = %v, want ErrInvalid", err)
			}
		})
	}
	// Row-level security refuses an entry of a tenant other than the transaction's.
	err := f.db.App.InTx(ctx, auth.Principal{TenantID: f.tenantA}, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, outbox.Entry{Queue: "jobs", Kind: "k", TenantID: f.tenantB})
	})
	if err == nil || errors.Is(err, outbox.ErrInvalid) {
		t.Fatalf("Add for another tenant = %v, want a database refusal", err)
	}
	if n := f.count(t, "true"); n != 0 {
		t.Fatalf("%d rows written", n)
	}
}

// Poll keeps looking until its deadline: entries committed while it runs are published without another
// run, a queue that is down meanwhile only delays its rows (they go out once it is back, in the same
// Poll), and it returns before the deadline's reserve.
func TestRelayPollPublishesWhatArrivesWhileItRuns(t *testing.T) {
	t.Parallel()
	f := setup(t)
	px, pub := proxiedPublisher(t, f.queues)
	opts := outbox.RelayOptions{Options: outbox.Options{RetryBase: 20 * time.Millisecond, RetryMax: 20 * time.Millisecond},
		Batch: 10, Reserve: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond}
	relay := outbox.NewRelay(f.db.Maint, pub, discard(), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := relay.Poll(ctx)
		done <- result{n, err}
	}()

	var want []string
	for i := range 15 { // more than a batch, while Poll runs
		want = append(want, f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "polled", Payload: i})...)
	}
	got := drain(t, f.sqs, f.queues["jobs"], len(want))
	px.stop()
	for i := range 5 { // committed while the queue is unreachable
		want = append(want, f.add(t, f.tenantB, outbox.Entry{Queue: "jobs", Kind: "polled", Payload: 100 + i})...)
	}
	for deadline := time.Now().Add(10 * time.Second); f.count(t, "attempts > 0") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Poll never tried the rows committed while the queue was down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	px.restart()
	got = append(got, drain(t, f.sqs, f.queues["jobs"], 5)...)
	if diff := cmp.Diff(sorted(want), sorted(idsOf(got))); diff != "" {
		t.Errorf("published while Poll ran (-want +got):\n%s", diff)
	}
	// Delivered; the marks commit right after.
	for deadline := time.Now().Add(10 * time.Second); f.count(t, "published_at IS NULL") != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows still pending", f.count(t, "published_at IS NULL"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("Poll returned %d, %v long before its deadline", r.n, r.err)
	default:
	}
	cancel()
	if r := <-done; r.n != len(want) {
		t.Errorf("Poll = %d, %v; want %d published", r.n, r.err, len(want))
	}
}

// cancelAfterSend sends through the real publisher, then ends the caller's context: the caller went away
// (a client disconnecting, a poll being stopped) just after the queue accepted the messages.
type cancelAfterSend struct {
	outbox.Publisher
	cancel context.CancelFunc
}

func (p cancelAfterSend) Send(ctx context.Context, queue string, msgs ...sqsx.Message) error {
	err := p.Publisher.Send(ctx, queue, msgs...)
	p.cancel()
	return err
}

// A message the queue accepted is recorded as published even when the caller's context ends right after
// the send: otherwise the row would stay pending and be sent again, and the relay would report a batch it
// did publish as failed.
func TestRelayRecordsASendWhoseContextEndsAfterIt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relay := outbox.NewRelay(f.db.Maint, cancelAfterSend{Publisher: f.pub, cancel: cancel}, discard(), outbox.RelayOptions{Batch: 10})
	want := f.add(t, f.tenantA, outbox.Entry{Queue: "jobs", Kind: "cancelled", Payload: 1}, outbox.Entry{Queue: "jobs", Kind: "cancelled", Payload: 2})
	n, err := relay.PublishPending(ctx, 10)
	if n != len(want) || err != nil {
		t.Errorf("PublishPending = %d, %v; want %d, nil", n, err, len(want))
	}
	if c := f.count(t, "published_at IS NULL"); c != 0 {
		t.Errorf("%d rows still pending after their send", c)
	}
	got := drain(t, f.sqs, f.queues["jobs"], len(want))
	if diff := cmp.Diff(sorted(want), sorted(idsOf(got))); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}
