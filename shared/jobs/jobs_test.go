package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/jobs"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/notification"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/sqsx"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newClient returns an SQS client for the test server at SQS_ENDPOINT, failing the test when it is unset.
func newClient(t testing.TB) *sqsx.Client {
	t.Helper()
	endpoint := os.Getenv("SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return sqsx.NewClient(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}, endpoint)
}

type queue struct{ URL, ARN string }

// newQueue creates a uniquely named queue (with a dead-letter queue taking messages after maxReceives
// receives, when maxReceives > 0); both are deleted in t.Cleanup.
func newQueue(t testing.TB, c *sqsx.Client, maxReceives int) (q, dlq queue) {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "jobs-" + hex.EncodeToString(b)
	attrs := map[string]string{"VisibilityTimeout": "30"}
	if maxReceives > 0 {
		dlq = create(t, c, name+"-dlq", nil)
		attrs["RedrivePolicy"] = `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":"` + strconv.Itoa(maxReceives) + `"}`
	}
	return create(t, c, name, attrs), dlq
}

func create(t testing.TB, c *sqsx.Client, name string, attrs map[string]string) queue {
	t.Helper()
	ctx := context.Background()
	url, err := c.CreateQueue(ctx, name, attrs)
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.DeleteQueue(context.Background(), url) })
	arn, err := sqsx.QueueARN(ctx, c, url)
	if err != nil {
		t.Fatal(err)
	}
	return queue{URL: url, ARN: arn}
}

// poll receives one batch from q as Lambda's event source mapping would deliver it.
func poll(t testing.TB, c *sqsx.Client, q queue) events.SQSEvent {
	t.Helper()
	ev, err := sqsx.Poll(context.Background(), c, q.URL, q.ARN, 10, time.Second, 0)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return ev
}

// fixture is a database with one tenant and its member, and a jobs queue on the SQS server.
type fixture struct {
	db     *pgtest.DB
	sqs    *sqsx.Client
	queue  queue
	dlq    queue
	tenant string
	user   string
	relay  *outbox.Relay
}

func setup(t testing.TB, maxReceives int) *fixture {
	t.Helper()
	f := &fixture{db: pgtest.New(t), sqs: newClient(t)}
	f.queue, f.dlq = newQueue(t, f.sqs, maxReceives)
	f.relay = outbox.NewRelay(f.db.Maint, sqsx.NewPublisher(f.sqs, map[string]string{jobs.Queue: f.queue.URL}), discard(), outbox.RelayOptions{})
	f.tenant, f.user = f.newTenant(t)
	return f
}

func (f *fixture) newTenant(t testing.TB) (tenant, user string) {
	t.Helper()
	const q = `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ('stable', 'stable-' || gen_random_uuid()) RETURNING id),
     u AS (INSERT INTO users (email) VALUES (gen_random_uuid() || '@jobs.test') RETURNING id),
     m AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT t.id, u.id, 'member' FROM t, u)
SELECT t.id::text, u.id::text FROM t, u`
	if err := f.db.Owner.QueryRow(context.Background(), q).Scan(&tenant, &user); err != nil {
		t.Fatal(err)
	}
	return tenant, user
}

// enqueue writes jobs in one transaction of tenant and has the relay publish them.
func (f *fixture) enqueue(t testing.TB, tenant string, js ...jobs.Job) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(js))
	err := f.db.App.InTx(ctx, auth.Principal{TenantID: tenant}, func(tx pgx.Tx) error {
		for i, j := range js {
			j.ID, j.TenantID = uuid.NewString(), tenant
			ids[i] = j.ID
			if err := jobs.Enqueue(ctx, tx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.relay.Run(ctx); n != len(js) || err != nil {
		t.Fatalf("relay = %d, %v; want %d, nil", n, err, len(js))
	}
	return ids
}

// consumer is the jobs-worker's handler as catalog.JobsWorker builds it, over reg.
func (f *fixture) consumer(reg *jobs.Registry) lambdax.SQSFunc {
	w := jobs.NewWorker(f.db.App, reg, discard())
	return lambdax.SQS(discard(), sqsx.Consumer(f.sqs, discard(), jobs.Consumer, w.Handle, sqsx.Options{BaseDelay: time.Second, MaxDelay: time.Second}))
}

func registry() *jobs.Registry {
	r := jobs.NewRegistry()
	jobs.Register(r, notification.JobKind, notification.CreateJob(postgres.NotificationStore{}))
	jobs.Register(r, jobs.CleanupKind, jobs.CleanupJob(postgres.HandoffStore{}))
	return r
}

func (f *fixture) countNotifications(t testing.TB) int {
	t.Helper()
	var n int
	if err := f.db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM notifications`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A notification job delivered twice by SQS (the same message, handled twice) writes one row.
func TestNotificationJobHasOneEffectWhenDeliveredTwice(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	create := notification.Create{UserID: f.user, Kind: "horse.transferred", Title: "Sunny is yours", Body: "Transfer done.", Data: json.RawMessage(`{"horse_id":"h1"}`)}
	id := f.enqueue(t, f.tenant, jobs.Job{Kind: notification.JobKind, Payload: create})[0]

	ev := poll(t, f.sqs, f.queue)
	if len(ev.Records) != 1 {
		t.Fatalf("received %d messages, want 1", len(ev.Records))
	}
	handle := f.consumer(registry())
	for i := range 2 {
		resp, err := handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %v, failures %v", i+1, err, resp.BatchItemFailures)
		}
	}
	if n := f.countNotifications(t); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
	var got notification.Create
	var tenant string
	err := f.db.Owner.QueryRow(ctx, `SELECT tenant_id::text, user_id::text, kind, title, body, data FROM notifications`).
		Scan(&tenant, &got.UserID, &got.Kind, &got.Title, &got.Body, &got.Data)
	if err != nil {
		t.Fatal(err)
	}
	// jsonb keeps the data's meaning, not its spacing.
	var wantData, gotData any
	if err := json.Unmarshal(create.Data, &wantData); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.Data, &gotData); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantData, gotData); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	create.Data, got.Data = nil, nil
	if diff := cmp.Diff(create, got); diff != "" || tenant != f.tenant {
		t.Errorf("notification of tenant %s (-want +got):\n%s", tenant, diff)
	}
	var processed int
	if err := f.db.Owner.QueryRow(ctx, `SELECT count(*) FROM processed_messages WHERE consumer = $1 AND message_id = $2 AND tenant_id = $3`,
		jobs.Consumer, id, f.tenant).Scan(&processed); err != nil || processed != 1 {
		t.Fatalf("dedupe records = %d (%v), want 1", processed, err)
	}
}

// A job of a kind nobody registered fails permanently: no backoff, and after the queue's
// maxReceiveCount receives SQS moves it to the dead-letter queue.
func TestUnknownKindGoesToTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	f := setup(t, 2)
	ctx := context.Background()
	f.enqueue(t, f.tenant, jobs.Job{Kind: "horse.teleport", Payload: map[string]string{}})
	handle := f.consumer(registry())
	for i := range 2 {
		ev := poll(t, f.sqs, f.queue)
		if len(ev.Records) != 1 {
			t.Fatalf("receive %d: %d messages, want 1 (a permanent failure is visible again at once)", i+1, len(ev.Records))
		}
		resp, err := handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Fatalf("receive %d: %v, failures %v; want the message reported failed", i+1, err, resp.BatchItemFailures)
		}
	}
	if ev := poll(t, f.sqs, f.queue); len(ev.Records) != 0 {
		t.Fatalf("the message is still in the source queue after maxReceiveCount receives")
	}
	dead := poll(t, f.sqs, f.dlq)
	if len(dead.Records) != 1 || dead.Records[0].MessageAttributes[sqsx.IDAttribute].StringValue == nil {
		t.Fatalf("dead-letter queue holds %+v, want the job", dead.Records)
	}
}

// Handle's verdict on messages that can never run (permanent) and on a handler's own failure (retried,
// with the dedupe record rolled back so the retry runs the job).
func TestHandle(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	var flaky atomic.Int32
	reg := registry()
	jobs.Register(reg, "test.flaky", func(ctx context.Context, jc jobs.JobContext, _ struct{}) error {
		if flaky.Add(1) == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	})
	w := jobs.NewWorker(f.db.App, reg, discard())
	body := func(kind, tenant string, payload any) []byte {
		p, _ := json.Marshal(payload)
		b, _ := json.Marshal(outbox.Envelope{ID: uuid.NewString(), Kind: kind, TenantID: tenant, Payload: p})
		return b
	}
	tests := []struct {
		name      string
		d         sqsx.Delivery
		permanent bool
		is        error
	}{
		{"not an envelope", sqsx.Delivery{ID: "m1", Body: []byte(`not json`)}, true, nil},
		{"no id anywhere", sqsx.Delivery{Body: []byte(`{"kind":"test.flaky"}`)}, true, nil},
		{"tenant not a UUID", sqsx.Delivery{ID: "m2", Body: body("test.flaky", "acme", struct{}{})}, true, nil},
		{"unknown kind", sqsx.Delivery{ID: "m3", Body: body("horse.teleport", f.tenant, struct{}{})}, true, jobs.ErrUnknownKind},
		{"payload of the wrong shape", sqsx.Delivery{ID: "m4", Body: body(notification.JobKind, f.tenant, []int{1})}, true, nil},
		{"payload that does not validate", sqsx.Delivery{ID: "m5", Body: body(notification.JobKind, f.tenant, notification.Create{UserID: "x", Kind: "k", Title: "t"})}, true, notification.ErrInvalid},
		{"recipient that does not exist", sqsx.Delivery{ID: "m6", Body: body(notification.JobKind, f.tenant, notification.Create{UserID: uuid.NewString(), Kind: "k", Title: "t"})}, true, notification.ErrNoSuchUser},
		{"handler failure is retried", sqsx.Delivery{ID: "m7", Body: body("test.flaky", f.tenant, struct{}{})}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.Handle(ctx, tc.d)
			if err == nil {
				t.Fatal("Handle succeeded, want an error")
			}
			if sqsx.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", !tc.permanent, tc.permanent, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
	// The failed job's dedupe record was rolled back with it: the retry runs, a third delivery is skipped.
	retry := tests[len(tests)-1].d
	for i := range 2 {
		if err := w.Handle(ctx, retry); err != nil {
			t.Fatalf("delivery %d after the failure: %v", i+2, err)
		}
	}
	if n := flaky.Load(); n != 2 {
		t.Fatalf("the flaky handler ran %d times, want 2", n)
	}
	if n := f.countNotifications(t); n != 0 {
		t.Fatalf("%d notifications written by failed jobs", n)
	}
}

// A cleanup hand-off deletes, in its tenant only, the given rows that are expired by its cutoff.
func TestCleanupHandoff(t *testing.T) {
	t.Parallel()
	f := setup(t, 0)
	ctx := context.Background()
	otherTenant, otherUser := f.newTenant(t)
	ids := map[string]string{}
	for name, spec := range map[string]struct{ tenant, user, age string }{
		"old":       {f.tenant, f.user, "2 days"},
		"new":       {f.tenant, f.user, "1 hour"},
		"other-old": {otherTenant, otherUser, "2 days"},
	} {
		var id string
		err := f.db.Owner.QueryRow(ctx, `INSERT INTO notifications (tenant_id, user_id, kind, title, created_at)
VALUES ($1, $2, 'k', 't', now() - $3::interval) RETURNING id::text`, spec.tenant, spec.user, spec.age).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	for name, spec := range map[string]struct{ published string }{
		"published-old": {"now() - interval '2 days'"},
		"pending":       {"NULL"},
	} {
		var id string
		// The pending row is due tomorrow, so the relay leaves it alone.
		err := f.db.Owner.QueryRow(ctx, `INSERT INTO outbox (tenant_id, queue, kind, payload, created_at, published_at, deliver_after)
VALUES ($1, 'jobs', 'k', '{}', now() - interval '3 days', `+spec.published+`, now() + interval '1 day') RETURNING id::text`, f.tenant).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	f.enqueue(t, f.tenant,
		jobs.Job{Kind: jobs.CleanupKind, Payload: jobs.CleanupHandoff{Table: jobs.CleanupNotifications, IDs: []string{ids["old"], ids["new"], ids["other-old"]}, Before: cutoff}},
		jobs.Job{Kind: jobs.CleanupKind, Payload: jobs.CleanupHandoff{Table: jobs.CleanupOutbox, IDs: []string{ids["published-old"], ids["pending"]}, Before: cutoff}},
	)
	handle := f.consumer(registry())
	ev := poll(t, f.sqs, f.queue)
	for len(ev.Records) < 2 {
		more := poll(t, f.sqs, f.queue)
		if len(more.Records) == 0 {
			t.Fatalf("received %d hand-offs, want 2", len(ev.Records))
		}
		ev.Records = append(ev.Records, more.Records...)
	}
	if resp, err := handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	var left []string
	rows, err := f.db.Owner.Query(ctx, `SELECT id::text FROM notifications UNION ALL SELECT id::text FROM outbox WHERE kind = 'k'`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range ids {
		for _, g := range got {
			if g == id {
				left = append(left, name)
			}
		}
	}
	want := []string{"new", "other-old", "pending"}
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(left))); diff != "" {
		t.Errorf("rows left (-want +got):\n%s", diff)
	}
}

func TestCleanupHandoffValidate(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	now := time.Now()
	tests := []struct {
		name string
		c    jobs.CleanupHandoff
		ok   bool
	}{
		{"valid", jobs.CleanupHandoff{Table: jobs.CleanupOutbox, IDs: []string{id}, Before: now}, true},
		{"unsupported table", jobs.CleanupHandoff{Table: "users", IDs: []string{id}, Before: now}, false},
		{"no ids", jobs.CleanupHandoff{Table: jobs.CleanupOutbox, Before: now}, false},
		{"too many ids", jobs.CleanupHandoff{Table: jobs.CleanupOutbox, IDs: make([]string, jobs.MaxCleanupIDs+1), Before: now}, false},
		{"id not a UUID", jobs.CleanupHandoff{Table: jobs.CleanupNotifications, IDs: []string{"1"}, Before: now}, false},
		{"no cutoff", jobs.CleanupHandoff{Table: jobs.CleanupNotifications, IDs: []string{id}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	r := registry()
	if diff := cmp.Diff([]string{jobs.CleanupKind, notification.JobKind}, r.Kinds()); diff != "" {
		t.Errorf("Kinds (-want +got):\n%s", diff)
	}
	noop := func(context.Context, jobs.JobContext, struct{}) error { return nil }
	for name, kind := range map[string]string{"twice": notification.JobKind, "empty": " "} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("Register(%q) did not panic", kind)
				}
			}()
			jobs.Register(r, kind, noop)
		})
	}
}
