package catalog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/queueadmin"
	"github.com/rocker-app/corral/shared/sqsx"
)

// createQueue makes a uniquely named queue on the test SQS server, deleted after the test; with dlqARN it
// dead-letters after maxReceives receives.
func createQueue(t *testing.T, c *sqsx.Client, dlqARN string, maxReceives string) (name, url, arn string) {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name = "t-" + hex.EncodeToString(b)
	var attrs map[string]string
	if dlqARN != "" {
		attrs = map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"` + maxReceives + `"}`}
	}
	url, err := c.CreateQueue(context.Background(), name, attrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteQueue(context.Background(), url) })
	if arn, err = sqsx.QueueARN(context.Background(), c, url); err != nil {
		t.Fatal(err)
	}
	return name, url, arn
}

// The queue admin routes end to end: platform administrators only, depths of each queue and its
// dead-letter queue, a redrive that moves the dead letters back (once per Idempotency-Key).
func TestQueuesAdminEndToEnd(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	env := platformtest.New(t, func(c *config.Config) { c.SQSEndpoint, c.AWSRegion = endpoint, "us-east-1" })
	c := env.Deps.SQS
	dlqName, dlqURL, dlqARN := createQueue(t, c, "", "")
	_, jobsURL, _ := createQueue(t, c, dlqARN, "3")
	_, webhooksURL, _ := createQueue(t, c, "", "") // no dead-letter queue
	env.Deps.Config.Queues = map[string]string{"jobs": jobsURL, "webhooks": webhooksURL}
	h := platform.Handler(env.Deps, catalog.QueuesAdmin(env.Deps))

	// Two dead letters of jobs (sent straight to its dead-letter queue) and one message waiting in webhooks.
	pub := sqsx.NewPublisher(c, map[string]string{"dlq": dlqURL, "webhooks": webhooksURL})
	if err := pub.Send(context.Background(), "dlq", sqsx.Message{ID: "dead-1", Body: []byte("{}")}, sqsx.Message{ID: "dead-2", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(context.Background(), "webhooks", sqsx.Message{ID: "w", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}

	a := env.NewTenant(t, "tenant-a")
	owner := env.Token(t, a.ID, a.OwnerID, "owner")
	operator := env.Token(t, a.ID, a.MemberID, queueadmin.RolePlatformAdmin)
	// A second operator for the refused redrives: each operator's redrive budget is five a minute.
	b := env.NewTenant(t, "tenant-b")
	operator2 := env.Token(t, b.ID, b.OwnerID, queueadmin.RolePlatformAdmin)
	do := func(t *testing.T, method, path, token, key string) *platformtest.Response {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		return platformtest.Do(t, h, req, token)
	}
	type depths struct {
		Items []queueadmin.Depth `json:"items"`
	}
	list := func(t *testing.T) []queueadmin.Depth {
		t.Helper()
		res := do(t, "GET", "/admin/queues", operator, "")
		if res.Status != http.StatusOK {
			t.Fatalf("list: status %d: %s", res.Status, res.Body)
		}
		var d depths
		res.JSON(t, &d)
		return d.Items
	}

	// Tenant owners and anonymous callers see nothing of the platform's queues.
	do(t, "GET", "/admin/queues", "", "").Problem(t, http.StatusUnauthorized)
	do(t, "GET", "/admin/queues", owner, "").Problem(t, http.StatusForbidden)
	do(t, "POST", "/admin/queues/jobs/redrive", owner, "k-owner").Problem(t, http.StatusForbidden)

	want := []queueadmin.Depth{
		{Queue: "jobs", MaxReceiveCount: 3, DeadLetter: &queueadmin.Depth{Queue: dlqName, Visible: 2}},
		{Queue: "webhooks", Visible: 1},
	}
	if diff := cmp.Diff(want, list(t)); diff != "" {
		t.Errorf("depths before redrive (-want +got):\n%s", diff)
	}

	do(t, "POST", "/admin/queues/jobs/redrive", operator2, "").Problem(t, http.StatusBadRequest) // no Idempotency-Key
	do(t, "POST", "/admin/queues/nope/redrive", operator2, "k-nope").Problem(t, http.StatusNotFound)
	do(t, "POST", "/admin/queues/jobs/redrive?limit=0", operator2, "k-zero").Problem(t, http.StatusBadRequest)
	do(t, "POST", "/admin/queues/webhooks/redrive", operator2, "k-webhooks").Problem(t, http.StatusConflict)

	for range 2 { // the second is a replay of the first answer, not a second redrive
		res := do(t, "POST", "/admin/queues/jobs/redrive?limit=10", operator, "k-jobs")
		if res.Status != http.StatusOK {
			t.Fatalf("redrive: status %d: %s", res.Status, res.Body)
		}
		var got queueadmin.RedriveResult
		res.JSON(t, &got)
		if diff := cmp.Diff(queueadmin.RedriveResult{Queue: "jobs", Moved: 2}, got); diff != "" {
			t.Errorf("redrive (-want +got):\n%s", diff)
		}
	}
	want[0].Visible, want[0].DeadLetter.Visible = 2, 0
	if diff := cmp.Diff(want, list(t)); diff != "" {
		t.Errorf("depths after redrive (-want +got):\n%s", diff)
	}

	// Refusals and redrives are in the audit log.
	if err := env.Deps.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var redrives, forbidden int
	err := env.DB.Owner.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE kind = $1), count(*) FILTER (WHERE kind = $2) FROM audit_events`,
		queueadmin.KindRedrive, queueadmin.KindForbidden).Scan(&redrives, &forbidden)
	if err != nil {
		t.Fatal(err)
	}
	if redrives != 1 || forbidden != 2 {
		t.Errorf("audit: %d redrives, %d refusals; want 1 and 2", redrives, forbidden)
	}
}
