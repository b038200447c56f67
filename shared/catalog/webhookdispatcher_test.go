package catalog_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/jobs"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/sqsx"
	"github.com/rocker-app/corral/shared/webhook"
)

// signedBy reports whether one of the webhook-signature entries is the Standard Webhooks signature of the
// request under secret, computed here from the specification: base64 HMAC-SHA256, keyed by the base64 after
// "whsec_", of "<webhook-id>.<webhook-timestamp>.<body>".
func signedBy(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// An event fanned out by the webhook.fanout job reaches a receiver through the webhooks queue and the
// webhook-dispatcher, signed with the secret the API returned; the sweep schedule runs as corral_maint.
func TestWebhookDispatcherDeliversAFannedOutEvent(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, catalog.WebhookEndpoints)
	ctx := context.Background()

	var (
		mu  sync.Mutex
		got []*http.Request
		raw [][]byte
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, raw = append(got, r), append(raw, b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)

	res := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", `{"url":"`+rc.URL+`/hooks","event_types":["horse.created"]}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create endpoint: status %d: %s", res.Status, res.Body)
	}
	var ep endpointBody
	res.JSON(t, &ep)

	fanout := catalog.WebhookFanOutJob(f.env.Deps)
	jobID := uuid.NewString()
	if err := fanout(ctx, jobs.JobContext{ID: jobID, Kind: webhook.FanOutKind, TenantID: f.a.ID, Log: f.env.Deps.Log},
		webhook.FanOutJob{Type: "horse.created", Payload: []byte(`{"name":"Comet"}`)}); err != nil {
		t.Fatalf("fan-out job: %v", err)
	}
	if err := fanout(ctx, jobs.JobContext{ID: uuid.NewString(), TenantID: ""}, webhook.FanOutJob{Type: "horse.created", Payload: []byte(`{}`)}); !sqsx.IsPermanent(err) {
		t.Errorf("fan-out job without a tenant: %v, want a permanent failure", err)
	}

	dispatcher := lambdax.SQS(f.env.Deps.Log, catalog.WebhookDispatcher(f.env.Deps))
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery reached the receiver within 15 s")
		}
		ev, err := sqsx.Poll(ctx, f.env.Deps.SQS, f.queueURL, f.queueARN, 10, time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := dispatcher(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("dispatcher: %v, failures %v", err, resp.BatchItemFailures)
		}
	}
	if !signedBy(ep.Secret, got[0].Header, raw[0]) {
		t.Errorf("the receiver cannot verify the delivery with the endpoint's secret: headers %v", got[0].Header)
	}
	var event string
	if err := f.env.DB.Owner.QueryRow(ctx, `SELECT event_id::text FROM webhook_deliveries WHERE endpoint_id = $1`, ep.ID).Scan(&event); err != nil || event != jobID {
		t.Errorf("delivery's event id %s (%v), want the job's id %s", event, err, jobID)
	}

	t.Run("a malformed message fails for the dead-letter queue", func(t *testing.T) {
		resp, err := dispatcher(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: `{"delivery_id":"nope"}`}}})
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Errorf("malformed: %v, failures %v; want it reported failed", err, resp.BatchItemFailures)
		}
	})

	t.Run("the sweep queues due attempts", func(t *testing.T) {
		if _, err := f.env.DB.Owner.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = now() - interval '1 second' WHERE endpoint_id = $1`, ep.ID); err != nil {
			t.Fatal(err)
		}
		if err := catalog.WebhookSweep(f.env.Deps)(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()}); err != nil {
			t.Fatalf("webhook-sweep: %v", err)
		}
		ev, err := sqsx.Poll(ctx, f.env.Deps.SQS, f.queueURL, f.queueARN, 10, time.Second, 0)
		if err != nil || len(ev.Records) != 1 || !strings.Contains(ev.Records[0].Body, `"attempt":2`) {
			t.Errorf("after the sweep the queue holds %v (%v), want attempt 2", ev.Records, err)
		}
	})
}
