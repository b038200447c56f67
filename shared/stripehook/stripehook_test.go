package stripehook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/stripehook"
)

const secret = "whsec_test_0123456789abcdef0123456789abcdef"

// payload is a Stripe event body: a Checkout session with the given metadata tenant ("" for none).
func payload(t testing.TB, id, typ, apiVersion, tenantID string) []byte {
	t.Helper()
	obj := map[string]any{"id": "cs_test_" + id, "object": "checkout.session", "status": "complete", "payment_status": "paid"}
	if typ == string(stripe.EventTypeCheckoutSessionExpired) {
		obj["status"] = "expired"
	}
	if tenantID != "" {
		obj["metadata"] = map[string]any{"tenant_id": tenantID}
	}
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": apiVersion, "created": 1748779200, "livemode": false,
		"pending_webhooks": 1, "type": typ, "data": map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed signs body as Stripe does, with stripe-go's own test helper.
func signed(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

// calls counts a handler's calls per event id.
type calls struct {
	mu   sync.Mutex
	seen map[string]int
	fail error
}

func (c *calls) Handle(ctx context.Context, tx pgx.Tx, ev stripe.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[ev.ID]++
	return c.fail
}

func (c *calls) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[id]
}

// fixture is the endpoint over a real ledger, with a counting handler on checkout.session.completed.
type fixture struct {
	db      *pgtest.DB
	h       http.Handler
	handler *calls
}

func newFixture(t testing.TB, secret string) *fixture {
	t.Helper()
	db := pgtest.New(t)
	f := &fixture{db: db, handler: &calls{}}
	reg := stripehook.NewRegistry()
	reg.Register(stripe.EventTypeCheckoutSessionCompleted, f.handler)
	f.h = stripehook.Endpoint(secret, postgres.NewStripeEventStore(db.App), reg)
	return f
}

func (f *fixture) post(t testing.TB, body []byte, signature string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if signature != "" {
		req.Header.Set(stripehook.SignatureHeader, signature)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// rows returns the ledger rows of id: type, tenant, whether a handler ran.
func (f *fixture) rows(t testing.TB, id string) []string {
	t.Helper()
	rows, err := f.db.Owner.Query(context.Background(),
		`SELECT type || ' tenant=' || coalesce(tenant_id::text, '-') || ' processed=' || (processed_at IS NOT NULL)::text
		 FROM stripe_events WHERE id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func received(t testing.TB, rec *httptest.ResponseRecorder) stripehook.Received {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	var r stripehook.Received
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	return r
}

func TestEndpointRefusesBadSignatures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	now := time.Now()
	tests := []struct {
		name      string
		body      func(id string) []byte
		signature func(body []byte) string
		detail    string
	}{
		{"missing header", nil, func([]byte) string { return "" }, "the Stripe-Signature header is missing"},
		{"forged: another secret", nil, func(b []byte) string { return signed(b, "whsec_someone_else_0123456789", now) }, "no valid signature"},
		{"stale: older than 300 s", nil, func(b []byte) string { return signed(b, secret, now.Add(-stripehook.Tolerance-5*time.Second)) }, "the signature's timestamp is outside the tolerance"},
		{"body changed after signing", nil, func(b []byte) string {
			return signed([]byte(strings.Replace(string(b), "cs_test", "cs_evil", 1)), secret, now)
		}, "no valid signature"},
		{"malformed header", nil, func([]byte) string { return "t=abc,v1=00" }, "the Stripe-Signature header is malformed"},
		{"no v1 signature", nil, func([]byte) string { return "t=1748779200" }, "no valid signature"},
		{"signed, but not an event", func(string) []byte { return []byte(`not json`) }, func(b []byte) string { return signed(b, secret, now) }, "the body is not a Stripe event"},
		{"signed JSON without an id", func(string) []byte { return []byte(`{"object":"event"}`) }, func(b []byte) string { return signed(b, secret, now) }, "the body is not a Stripe event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "evt_" + uuid.NewString()
			body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")
			if tt.body != nil {
				body = tt.body(id)
			}
			rec := f.post(t, body, tt.signature(body))
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d %s, want a 400 problem: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			var p struct{ Detail string }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Detail != tt.detail {
				t.Errorf("detail %q, want %q", p.Detail, tt.detail)
			}
			if n := f.handler.count(id); n != 0 {
				t.Errorf("handler ran %d times", n)
			}
			if rows := f.rows(t, id); len(rows) != 0 {
				t.Errorf("ledger recorded %v", rows)
			}
		})
	}
}

func TestEndpointProcessesAnEventOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	id, tenant := "evt_"+uuid.NewString(), uuid.NewString()
	body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, tenant)

	// Stripe redelivers with a fresh signature each time.
	first := received(t, f.post(t, body, signed(body, secret, time.Now())))
	second := received(t, f.post(t, body, signed(body, secret, time.Now().Add(time.Second))))
	want := stripehook.Received{ID: id, Type: "checkout.session.completed"}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first delivery (-want +got):\n%s", diff)
	}
	want.Duplicate = true
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("second delivery (-want +got):\n%s", diff)
	}
	if n := f.handler.count(id); n != 1 {
		t.Errorf("handler ran %d times over two deliveries, want 1", n)
	}
	if diff := cmp.Diff([]string{"checkout.session.completed tenant=" + tenant + " processed=true"}, f.rows(t, id)); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
}

func TestEndpointConcurrentDeliveriesRunTheHandlerOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	id := "evt_" + uuid.NewString()
	body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		duplicates int
	)
	for range 4 {
		wg.Go(func() {
			rec := f.post(t, body, signed(body, secret, time.Now()))
			if rec.Code != http.StatusOK {
				t.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
			var r stripehook.Received
			_ = json.Unmarshal(rec.Body.Bytes(), &r)
			mu.Lock()
			defer mu.Unlock()
			if r.Duplicate {
				duplicates++
			}
		})
	}
	wg.Wait()
	if n := f.handler.count(id); n != 1 || duplicates != 3 {
		t.Errorf("handler ran %d times and %d deliveries were duplicates; want 1 and 3", n, duplicates)
	}
	if rows := f.rows(t, id); len(rows) != 1 {
		t.Errorf("ledger has %d rows, want 1", len(rows))
	}
}

func TestEndpointRecordsUnknownTypes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	id := "evt_" + uuid.NewString()
	body := payload(t, id, "payout.paid", stripe.APIVersion, "not-a-uuid")
	got := received(t, f.post(t, body, signed(body, secret, time.Now())))
	if got.Duplicate || got.Type != "payout.paid" {
		t.Errorf("answer %+v", got)
	}
	if diff := cmp.Diff([]string{"payout.paid tenant=- processed=false"}, f.rows(t, id)); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
	if got := received(t, f.post(t, body, signed(body, secret, time.Now()))); !got.Duplicate {
		t.Errorf("second delivery of an unknown type: %+v, want a duplicate", got)
	}
}

// An event rendered with another API version is still processed (logged, not refused: refusing would
// only make Stripe retry the same body for days).
func TestEndpointAcceptsOtherAPIVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	id := "evt_" + uuid.NewString()
	body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), "2020-08-27", "")
	received(t, f.post(t, body, signed(body, secret, time.Now())))
	if n := f.handler.count(id); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

func TestEndpointHandlerFailureIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, secret)
	f.handler.fail = errors.New("orders are down")
	id := "evt_" + uuid.NewString()
	body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")

	rec := f.post(t, body, signed(body, secret, time.Now()))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "orders are down") {
		t.Fatalf("status %d, want 500 without the cause: %s", rec.Code, rec.Body)
	}
	if rows := f.rows(t, id); len(rows) != 0 {
		t.Fatalf("a failed event was recorded: %v", rows)
	}

	f.handler.mu.Lock()
	f.handler.fail = nil
	f.handler.mu.Unlock()
	if got := received(t, f.post(t, body, signed(body, secret, time.Now()))); got.Duplicate {
		t.Errorf("the retry was taken for a duplicate: %+v", got)
	}
	if n := f.handler.count(id); n != 2 {
		t.Errorf("handler ran %d times (failure, retry), want 2", n)
	}
	if rows := f.rows(t, id); len(rows) != 1 {
		t.Errorf("ledger has %d rows after the retry, want 1", len(rows))
	}
}

// Without a secret nothing is acknowledged: Stripe keeps the events until the secret is set.
func TestEndpointWithoutSecretAnswers500(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	id := "evt_" + uuid.NewString()
	body := payload(t, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")
	if rec := f.post(t, body, signed(body, secret, time.Now())); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", rec.Code, rec.Body)
	}
	if rec := f.post(t, body, ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("unsigned: status %d, want 400: %s", rec.Code, rec.Body)
	}
	if rows := f.rows(t, id); len(rows) != 0 {
		t.Errorf("ledger recorded %v", rows)
	}
}

// sessions records what a CheckoutSessions implementation is called with.
type sessions struct {
	mu  sync.Mutex
	got []string
}

func (s *sessions) Completed(ctx context.Context, tx pgx.Tx, ev stripe.Event, cs *stripe.CheckoutSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, "completed "+cs.ID+" "+string(cs.Status)+" "+string(cs.PaymentStatus))
	return nil
}

func (s *sessions) Expired(ctx context.Context, tx pgx.Tx, ev stripe.Event, cs *stripe.CheckoutSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, "expired "+cs.ID+" "+string(cs.Status))
	return nil
}

var _ stripehook.CheckoutSessions = (*sessions)(nil)

func TestCheckoutDispatchesDecodedSessions(t *testing.T) {
	t.Parallel()
	s := &sessions{}
	h := stripehook.Checkout(s)
	for _, typ := range stripehook.CheckoutTypes {
		var ev stripe.Event
		if err := json.Unmarshal(payload(t, "evt_1", string(typ), stripe.APIVersion, ""), &ev); err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(context.Background(), nil, ev); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	want := []string{"completed cs_test_evt_1 complete paid", "expired cs_test_evt_1 expired"}
	if diff := cmp.Diff(want, s.got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		ev   stripe.Event
	}{
		{"no data", stripe.Event{ID: "evt_2", Type: stripe.EventTypeCheckoutSessionCompleted}},
		{"not a session", stripe.Event{ID: "evt_3", Type: stripe.EventTypeCheckoutSessionCompleted, Data: &stripe.EventData{Raw: json.RawMessage(`[1]`)}}},
		{"a session without an id", stripe.Event{ID: "evt_4", Type: stripe.EventTypeCheckoutSessionExpired, Data: &stripe.EventData{Raw: json.RawMessage(`{"object":"checkout.session"}`)}}},
		{"another type", stripe.Event{ID: "evt_5", Type: "invoice.paid", Data: &stripe.EventData{Raw: json.RawMessage(`{"id":"in_1"}`)}}},
	}
	for _, tt := range bad {
		if err := h.Handle(context.Background(), nil, tt.ev); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if len(s.got) != 2 {
		t.Errorf("bad events reached the sessions: %v", s.got[2:])
	}
}

// The default checkout handler records each session's id and status on the event's ledger row.
func TestRecordCheckoutThroughTheEndpoint(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewStripeEventStore(db.App)
	reg := stripehook.NewRegistry()
	checkout := stripehook.Checkout(stripehook.RecordCheckout(store))
	for _, typ := range stripehook.CheckoutTypes {
		reg.Register(typ, checkout)
	}
	h := stripehook.Endpoint(secret, store, reg)
	f := &fixture{db: db, h: h}
	var got []string
	for _, typ := range stripehook.CheckoutTypes {
		id := "evt_" + uuid.NewString()
		body := payload(t, id, string(typ), stripe.APIVersion, "")
		received(t, f.post(t, body, signed(body, secret, time.Now())))
		var obj, status string
		if err := db.Owner.QueryRow(context.Background(), `SELECT object_id, object_status FROM stripe_events WHERE id = $1`, id).Scan(&obj, &status); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimPrefix(obj, "cs_test_"+id)+status)
	}
	if diff := cmp.Diff([]string{"complete", "expired"}, got); diff != "" {
		t.Errorf("recorded statuses (-want +got):\n%s", diff)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := stripehook.NewRegistry()
	nop := stripehook.HandlerFunc(func(context.Context, pgx.Tx, stripe.Event) error { return nil })
	r.Register("b.event", nop)
	r.Register("a.event", nop)
	if diff := cmp.Diff([]stripe.EventType{"a.event", "b.event"}, r.Types()); diff != "" {
		t.Errorf("Types (-want +got):\n%s", diff)
	}
	if _, ok := r.Lookup("c.event"); ok {
		t.Error("Lookup of an unregistered type succeeded")
	}
	for name, register := range map[string]func(){
		"twice":       func() { r.Register("a.event", nop) },
		"nil handler": func() { r.Register("c.event", nil) },
		"empty type":  func() { r.Register("", nop) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			register()
		})
	}
}
