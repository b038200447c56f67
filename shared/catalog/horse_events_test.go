package catalog_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/sqsx"
)

// The end-to-end path: a horse created through POST /horses emits horse.created in the same
// transaction (outbox), the outbox relay publishes it to the real webhooks queue, the
// dispatcher fans it out to the tenant's subscribed endpoint and delivers it, signed, to a receiver.
func TestHorseCreatedReachesTheTenantsWebhookSigned(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, catalog.WebhookEndpoints)
	ctx := context.Background()
	horses := platform.Handler(f.env.Deps, catalog.Horses(f.env.Deps))

	var (
		mu   sync.Mutex
		hdrs []http.Header
		raw  [][]byte
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hdrs, raw = append(hdrs, r.Header.Clone()), append(raw, b)
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

	f.h = horses
	created := f.do(t, f.ownerA, "POST", "/horses", `{"name":"Comet","sex":"mare"}`)
	if created.Status != http.StatusCreated {
		t.Fatalf("create horse: status %d: %s", created.Status, created.Body)
	}
	var h struct {
		ID string `json:"id"`
	}
	created.JSON(t, &h)

	// The outbox relay publishes it (its scheduled runs poll; one pass here).
	if err := catalog.OutboxRelay(f.env.Deps)(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()}); err != nil {
		t.Fatalf("outbox-relay: %v", err)
	}
	dispatcher := lambdax.SQS(f.env.Deps.Log, catalog.WebhookDispatcher(f.env.Deps))
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(raw)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("horse.created never reached the receiver")
		}
		ev, err := sqsx.Poll(ctx, f.env.Deps.SQS, f.queueURL, f.queueARN, 10, time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := dispatcher(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("dispatcher: %v, failures %v", err, resp.BatchItemFailures)
		}
	}
	if !signedBy(ep.Secret, hdrs[0], raw[0]) {
		t.Errorf("the receiver cannot verify the delivery with the endpoint's secret: %v", hdrs[0])
	}
	if !json.Valid(raw[0]) || !strings.Contains(string(raw[0]), h.ID) || !strings.Contains(string(raw[0]), "horse.created") {
		t.Errorf("delivery %s is not the horse.created event of horse %s", raw[0], h.ID)
	}
}
