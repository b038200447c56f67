package catalog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/sqsx"
)

// webhookFixture is fixture (tenants A and B) with the test SQS server, a "webhooks" queue of the test's
// own, and 127.0.0.1 on the webhook allow-list.
type webhookFixture struct {
	*fixture
	queueURL, queueARN string
}

func newWebhookFixture(t *testing.T, fn func(d *platform.Deps) []platform.Route) *webhookFixture {
	t.Helper()
	endpoint := os.Getenv("SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	env := platformtest.New(t, func(c *config.Config) {
		c.SQSEndpoint, c.AWSRegion = endpoint, "us-east-1"
		c.WebhookAllowedHosts = []string{"127.0.0.1"}
	})
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url, err := env.Deps.SQS.CreateQueue(ctx, "webhooks-"+hex.EncodeToString(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Deps.SQS.DeleteQueue(context.Background(), url)
	})
	arn, err := sqsx.QueueARN(ctx, env.Deps.SQS, url)
	if err != nil {
		t.Fatal(err)
	}
	env.Deps.Config.Queues = map[string]string{"webhooks": url}

	f := &fixture{env: env}
	if fn != nil {
		f.h = platform.Handler(env.Deps, fn(env.Deps))
	}
	f.a, f.b = env.NewTenant(t, "tenant-a"), env.NewTenant(t, "tenant-b")
	f.ownerA = caller{f.a.OwnerID, env.Token(t, f.a.ID, f.a.OwnerID, "owner")}
	f.memberA = caller{f.a.MemberID, env.Token(t, f.a.ID, f.a.MemberID, "member")}
	f.ownerB = caller{f.b.OwnerID, env.Token(t, f.b.ID, f.b.OwnerID, "owner")}
	return &webhookFixture{fixture: f, queueURL: url, queueARN: arn}
}

type endpointBody struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	EventTypes              []string   `json:"event_types"`
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedBy               string     `json:"created_by"`
}

type deliveryBody struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Attempt  int    `json:"attempt"`
	Attempts []struct {
		Attempt    int  `json:"attempt"`
		StatusCode *int `json:"status_code"`
	} `json:"attempts"`
}

func TestWebhookEndpointsEndToEnd(t *testing.T) {
	t.Parallel()
	f := newWebhookFixture(t, catalog.WebhookEndpoints)
	ctx := context.Background()

	res := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", `{"url":"https://8.8.8.8/hooks","description":"CRM","event_types":["horse.created","horse.created","horse.sold"]}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	var ep endpointBody
	res.JSON(t, &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secret) != len("whsec_")+44 {
		t.Errorf("secret %q: want whsec_ and the base64 of 32 bytes", ep.Secret)
	}
	if diff := cmp.Diff([]string{"horse.created", "horse.sold"}, ep.EventTypes); diff != "" || ep.CreatedBy != f.ownerA.userID {
		t.Errorf("event types (-want +got):\n%s; created_by %s", diff, ep.CreatedBy)
	}

	t.Run("the secret is shown only on create and rotate", func(t *testing.T) {
		t.Parallel()
		res := f.do(t, f.ownerA, "GET", "/webhooks/endpoints", "")
		if res.Status != http.StatusOK || strings.Contains(string(res.Body), "whsec_") || !strings.Contains(string(res.Body), ep.ID) {
			t.Errorf("list: status %d, body %s: want the endpoint and no secret", res.Status, res.Body)
		}
	})

	t.Run("validation and the address guard", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{"url":"http://8.8.8.8/hooks","event_types":["horse.created"]}`,
			`{"url":"https://169.254.169.254/latest/meta-data/","event_types":["horse.created"]}`,
			`{"url":"https://10.0.0.5/hooks","event_types":["horse.created"]}`,
			`{"url":"https://[fc00::1]/hooks","event_types":["horse.created"]}`,
			`{"url":"https://user:pw@8.8.8.8/hooks","event_types":["horse.created"]}`,
		} {
			p := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", body).Problem(t, http.StatusBadRequest)
			if diff := cmp.Diff([]string{"url"}, fieldsOf(p)); diff != "" {
				t.Errorf("%s: problem fields (-want +got):\n%s", body, diff)
			}
		}
		p := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", `{"url":"https://8.8.8.8/h","event_types":[]}`).Problem(t, http.StatusBadRequest)
		if diff := cmp.Diff([]string{"event_types"}, fieldsOf(p)); diff != "" {
			t.Errorf("no event types: problem fields (-want +got):\n%s", diff)
		}
		// Plain http to an allow-listed host is for local development.
		if res := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", `{"url":"http://127.0.0.1:9/hooks","event_types":["*"]}`); res.Status != http.StatusCreated {
			t.Errorf("allow-listed http endpoint: status %d: %s", res.Status, res.Body)
		}
	})

	t.Run("members may not manage webhooks", func(t *testing.T) {
		t.Parallel()
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/webhooks/endpoints", ""},
			{"POST", "/webhooks/endpoints", `{"url":"https://8.8.8.8/x","event_types":["horse.created"]}`},
			{"DELETE", "/webhooks/endpoints/" + ep.ID, ""},
			{"POST", "/webhooks/endpoints/" + ep.ID + "/rotate-secret", ""},
			{"GET", "/webhooks/endpoints/" + ep.ID + "/deliveries", ""},
			{"POST", "/webhooks/deliveries/" + uuid.NewString() + "/retry", ""},
		} {
			f.do(t, f.memberA, r.method, r.path, r.body).Problem(t, http.StatusForbidden)
		}
	})

	t.Run("another tenant's endpoints are not found", func(t *testing.T) {
		t.Parallel()
		f.do(t, f.ownerB, "DELETE", "/webhooks/endpoints/"+ep.ID, "").Problem(t, http.StatusNotFound)
		f.do(t, f.ownerB, "POST", "/webhooks/endpoints/"+ep.ID+"/rotate-secret", "").Problem(t, http.StatusNotFound)
		f.do(t, f.ownerB, "GET", "/webhooks/endpoints/"+ep.ID+"/deliveries", "").Problem(t, http.StatusNotFound)
		f.do(t, f.ownerB, "GET", "/webhooks/endpoints/not-a-uuid/deliveries", "").Problem(t, http.StatusNotFound)
		res := f.do(t, f.ownerB, "GET", "/webhooks/endpoints", "")
		if res.Status != http.StatusOK || strings.Contains(string(res.Body), ep.ID) {
			t.Errorf("B's list: status %d, body %s: want none of A's", res.Status, res.Body)
		}
	})

	t.Run("rotate", func(t *testing.T) {
		t.Parallel()
		res := f.do(t, f.ownerA, "POST", "/webhooks/endpoints/"+ep.ID+"/rotate-secret", "")
		if res.Status != http.StatusOK {
			t.Fatalf("rotate: status %d: %s", res.Status, res.Body)
		}
		var got endpointBody
		res.JSON(t, &got)
		if got.Secret == ep.Secret || !strings.HasPrefix(got.Secret, "whsec_") || got.PreviousSecretExpiresAt == nil ||
			time.Until(*got.PreviousSecretExpiresAt) < 23*time.Hour {
			t.Errorf("rotated: secret %q (old %q), previous expires %v: want a new secret and a 24 h overlap", got.Secret, ep.Secret, got.PreviousSecretExpiresAt)
		}
	})

	t.Run("deliveries, paged, and a manual retry", func(t *testing.T) {
		t.Parallel()
		var ids []string
		for i := range 3 {
			var id string
			err := f.env.DB.Owner.QueryRow(ctx, `
INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, attempt, status, created_at)
VALUES ($1, $2, gen_random_uuid(), 'horse.created', '{}', 8, 'dead', now() - $3 * interval '1 minute')
RETURNING id`, f.a.ID, ep.ID, i).Scan(&id)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		var seen []string
		cursor := ""
		for range 5 {
			res := f.do(t, f.ownerA, "GET", "/webhooks/endpoints/"+ep.ID+"/deliveries?limit=2&cursor="+cursor, "")
			if res.Status != http.StatusOK {
				t.Fatalf("deliveries: status %d: %s", res.Status, res.Body)
			}
			var page struct {
				Items      []deliveryBody `json:"items"`
				NextCursor string         `json:"next_cursor"`
			}
			res.JSON(t, &page)
			for _, d := range page.Items {
				seen = append(seen, d.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if diff := cmp.Diff(ids, seen); diff != "" {
			t.Errorf("deliveries newest first over pages (-want +got):\n%s", diff)
		}

		f.do(t, f.ownerB, "POST", "/webhooks/deliveries/"+ids[0]+"/retry", "").Problem(t, http.StatusNotFound)
		res := f.do(t, f.ownerA, "POST", "/webhooks/deliveries/"+ids[0]+"/retry", "")
		if res.Status != http.StatusAccepted {
			t.Fatalf("retry: status %d: %s", res.Status, res.Body)
		}
		var d deliveryBody
		res.JSON(t, &d)
		if d.Status != "pending" || d.Attempt != 8 {
			t.Errorf("retried delivery: %+v, want pending, attempt 8", d)
		}
		f.do(t, f.ownerA, "POST", "/webhooks/deliveries/"+ids[0]+"/retry", "").Problem(t, http.StatusConflict)

		// The retry's attempt (number 9) is on the queue.
		ev, err := sqsx.Poll(ctx, f.env.Deps.SQS, f.queueURL, f.queueARN, 10, time.Second, 0)
		if err != nil || len(ev.Records) != 1 {
			t.Fatalf("webhooks queue: %d messages (%v), want 1", len(ev.Records), err)
		}
		var job struct {
			DeliveryID string `json:"delivery_id"`
			TenantID   string `json:"tenant_id"`
			Attempt    int    `json:"attempt"`
		}
		if err := json.Unmarshal([]byte(ev.Records[0].Body), &job); err != nil || job.DeliveryID != ids[0] || job.TenantID != f.a.ID || job.Attempt != 9 {
			t.Errorf("queued job %s (%v), want attempt 9 of %s", ev.Records[0].Body, err, ids[0])
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		res := f.do(t, f.ownerA, "POST", "/webhooks/endpoints", `{"url":"https://8.8.4.4/x","event_types":["horse.created"]}`)
		var doomed endpointBody
		res.JSON(t, &doomed)
		if res := f.do(t, f.ownerA, "DELETE", "/webhooks/endpoints/"+doomed.ID, ""); res.Status != http.StatusNoContent {
			t.Fatalf("delete: status %d: %s", res.Status, res.Body)
		}
		f.do(t, f.ownerA, "DELETE", "/webhooks/endpoints/"+doomed.ID, "").Problem(t, http.StatusNotFound)
	})
}
