package catalog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/jobs"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/notification"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/sqsx"
	"github.com/rocker-app/corral/shared/webhook"
)

// asyncEnv is a platform whose SQS client points at the test SQS server and whose "jobs" queue is a fresh
// queue of the test's own (deleted after it).
func asyncEnv(t *testing.T) (env *platformtest.Env, jobsURL, jobsARN string) {
	t.Helper()
	endpoint := os.Getenv("SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	env = platformtest.New(t, func(c *config.Config) { c.SQSEndpoint, c.AWSRegion = endpoint, "us-east-1" })
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	jobsURL, err := env.Deps.SQS.CreateQueue(ctx, "jobs-"+hex.EncodeToString(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Deps.SQS.DeleteQueue(context.Background(), jobsURL)
	})
	if jobsARN, err = sqsx.QueueARN(ctx, env.Deps.SQS, jobsURL); err != nil {
		t.Fatal(err)
	}
	env.Deps.Config.Queues = map[string]string{jobs.Queue: jobsURL}
	return env, jobsURL, jobsARN
}

// A job enqueued with a change reaches the jobs-worker through the outbox-relay schedule and the jobs
// queue, and its effect happens once even when SQS delivers it twice.
func TestJobsWorkerRunsARelayedJobOnce(t *testing.T) {
	t.Parallel()
	env, jobsURL, jobsARN := asyncEnv(t)
	ctx := context.Background()
	tn := env.NewTenant(t, "sunrise")
	err := env.Deps.DB.InTx(ctx, auth.Principal{TenantID: tn.ID, UserID: tn.OwnerID}, func(tx pgx.Tx) error {
		return jobs.Enqueue(ctx, tx, jobs.Job{Kind: notification.JobKind, TenantID: tn.ID,
			Payload: notification.Create{UserID: tn.MemberID, Kind: "horse.updated", Title: "Sunny was updated"}})
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := catalog.OutboxRelay(env.Deps)(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()}); err != nil {
		t.Fatalf("outbox-relay: %v", err)
	}
	ev, err := sqsx.Poll(ctx, env.Deps.SQS, jobsURL, jobsARN, 10, time.Second, 0)
	if err != nil || len(ev.Records) != 1 {
		t.Fatalf("jobs queue: %d messages (%v), want 1", len(ev.Records), err)
	}
	worker := lambdax.SQS(env.Deps.Log, catalog.JobsWorker(env.Deps))
	for i := range 2 {
		resp, err := worker(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %v, failures %v", i+1, err, resp.BatchItemFailures)
		}
	}
	var got []string
	rows, err := env.DB.Owner.Query(ctx, `SELECT user_id::text || ' ' || title FROM notifications WHERE tenant_id = $1`, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{tn.MemberID + " Sunny was updated"}, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

func TestJobTypes(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	want := []string{jobs.CleanupKind, notification.JobKind, webhook.FanOutKind}
	if diff := cmp.Diff(want, catalog.JobTypes(env.Deps).Kinds()); diff != "" {
		t.Errorf("job kinds (-want +got):\n%s", diff)
	}
}
