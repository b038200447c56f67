package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/sqsx"
	"github.com/rocker-app/corral/shared/webhook"
)

// verify checks a request as a receiver following the Standard Webhooks specification would, written
// from the specification rather than with the package's signer: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key is the base64 after "whsec_", the header holds
// space-separated "v1,<base64 HMAC-SHA256>" entries of which one must match, and the timestamp must be
// within five minutes of now.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is too far from now", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %v", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
}

// receiver is a real HTTP server on 127.0.0.1 that answers each request with the status respond gives
// for its 1-based number, and keeps every request.
type receiver struct {
	srv     *httptest.Server
	respond func(n int) int
	mu      sync.Mutex
	got     []received
}

func newReceiver(t testing.TB, respond func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		w.WriteHeader(rc.respond(n))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// failFirst answers 500 to the first k requests, then 204.
func failFirst(k int) func(int) int {
	return func(n int) int {
		if n <= k {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
}

// newSQS returns a client of the SQS server at SQS_ENDPOINT, failing the test when it is unset.
func newSQS(t testing.TB) *sqsx.Client {
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

// queue is the webhooks queue of one test: created with a unique name, deleted in t.Cleanup.
type queue struct {
	c        *sqsx.Client
	url, arn string
	pub      *sqsx.Publisher
}

func newQueue(t testing.TB) *queue {
	t.Helper()
	c := newSQS(t)
	ctx := context.Background()
	name := "webhooks-" + randomHex(t, 6)
	url, err := c.CreateQueue(ctx, name, map[string]string{"VisibilityTimeout": "30"})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.DeleteQueue(context.Background(), url) })
	arn, err := sqsx.QueueARN(ctx, c, url)
	if err != nil {
		t.Fatal(err)
	}
	return &queue{c: c, url: url, arn: arn, pub: sqsx.NewPublisher(c, map[string]string{"webhooks": url})}
}

// Enqueue implements webhook.Enqueuer as the catalog's adapter does.
func (q *queue) Enqueue(ctx context.Context, jobs ...webhook.Job) error {
	msgs := make([]sqsx.Message, len(jobs))
	for i, j := range jobs {
		msgs[i] = sqsx.Message{ID: j.MessageID(), Body: j.Body(), Delay: j.Delay}
	}
	return q.pub.Send(ctx, "webhooks", msgs...)
}

// send puts a raw body on the queue.
func (q *queue) send(t testing.TB, id string, body []byte) {
	t.Helper()
	if err := q.pub.Send(context.Background(), "webhooks", sqsx.Message{ID: id, Body: body}); err != nil {
		t.Fatal(err)
	}
}

// poll stands in for the event source mapping once: it receives a batch (waiting up to a second), runs
// fn on it and deletes the messages fn did not report failed. It returns how many messages it handled.
func (q *queue) poll(t testing.TB, fn lambdax.SQSFunc) int {
	t.Helper()
	ctx := context.Background()
	ev, err := sqsx.Poll(ctx, q.c, q.url, q.arn, 10, time.Second, 0)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if len(ev.Records) == 0 {
		return 0
	}
	resp, err := fn(ctx, ev)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var dels []sqsx.DeleteEntry
	for i, r := range ev.Records {
		if !failed[r.MessageId] {
			dels = append(dels, sqsx.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: r.ReceiptHandle})
		}
	}
	if len(dels) > 0 {
		if _, err := q.c.DeleteMessageBatch(ctx, q.url, dels); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	return len(ev.Records)
}

// rig is a dispatcher over a fresh database and queue, with one tenant (an owner and a member).
type rig struct {
	db      *pgtest.DB
	store   *postgres.WebhookStore
	q       *queue
	disp    *webhook.Dispatcher
	handler lambdax.SQSFunc
	tenant  string
	owner   auth.Principal
}

// quickSchedule retries at once, except one wait of a second (a real SQS message delay).
func quickSchedule() []time.Duration {
	return []time.Duration{0, 0, time.Second, 0, 0, 0, 0, 0}
}

func newRig(t testing.TB, allowed []string, o webhook.Options) *rig {
	t.Helper()
	db := pgtest.New(t)
	r := &rig{db: db, store: postgres.NewWebhookStore(db.App, db.Maint), q: newQueue(t)}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.disp = webhook.NewDispatcher(r.store, r.q, webhook.NewGuard(allowed), log, o)
	consumer := sqsx.Consumer(r.q.c, log, "webhook-test", func(ctx context.Context, d sqsx.Delivery) error {
		err := r.disp.Handle(ctx, d.Body)
		if errors.Is(err, webhook.ErrMalformed) {
			return sqsx.Permanent(err)
		}
		return err
	}, sqsx.Options{Queues: map[string]string{"webhooks": r.q.url}, BaseDelay: time.Second, MaxDelay: time.Second})
	r.handler = lambdax.SQS(log, consumer)

	var owner string
	const q = `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ('hooks', $1) RETURNING id),
     u AS (INSERT INTO users (email) VALUES ($1 || '@hooks.test') RETURNING id),
     m AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT t.id, u.id, 'owner' FROM t, u)
SELECT t.id::text, u.id::text FROM t, u`
	if err := db.Owner.QueryRow(context.Background(), q, "hooks-"+randomHex(t, 4)).Scan(&r.tenant, &owner); err != nil {
		t.Fatal(err)
	}
	r.owner = auth.Principal{TenantID: r.tenant, UserID: owner, Roles: []string{auth.RoleOwner}}
	return r
}

// endpoint registers url for the event types through the store, returning it and its secret.
func (r *rig) endpoint(t testing.TB, url string, types ...string) (webhook.Endpoint, string) {
	t.Helper()
	secret := webhook.NewSecret()
	e, err := r.store.CreateEndpoint(context.Background(), r.owner, webhook.NewEndpoint{URL: url, EventTypes: types, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

// event is a new event of the rig's tenant.
func (r *rig) event(t testing.TB, typ, payload string) webhook.Event {
	t.Helper()
	return webhook.Event{ID: uuid.NewString(), TenantID: r.tenant, Type: typ, Payload: []byte(payload)}
}

// run polls the queue until done reports true, failing the test after 20 seconds.
func (r *rig) run(t testing.TB, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not get there within 20 s")
		}
		r.q.poll(t, r.handler)
	}
}

// deliveries reads the deliveries of an endpoint as the owner, newest first.
func (r *rig) deliveries(t testing.TB, endpointID string) []webhook.Delivery {
	t.Helper()
	page, err := r.store.ListDeliveries(context.Background(), r.owner, endpointID, webhook.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Deliveries
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
