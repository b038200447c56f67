package sqsx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/sqsx"
)

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
	return sqsx.NewClient(aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, endpoint)
}

// testQueue is a queue made for one test and deleted after it.
type testQueue struct {
	Name, URL, ARN string
}

// queueSpec configures newQueue. Zero values are SQS's defaults; DeadLetter > 0 also makes a
// dead-letter queue with that maxReceiveCount.
type queueSpec struct {
	Visibility int // seconds; -1 for 0 (a message received is visible again at once unless changed)
	DeadLetter int
}

// newQueue creates a uniquely named queue (and its dead-letter queue when asked); both are deleted in
// t.Cleanup.
func newQueue(t testing.TB, c *sqsx.Client, spec queueSpec) (src testQueue, dlq testQueue) {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "t-" + hex.EncodeToString(b)
	attrs := map[string]string{}
	switch {
	case spec.Visibility < 0:
		attrs["VisibilityTimeout"] = "0"
	case spec.Visibility > 0:
		attrs["VisibilityTimeout"] = strconv.Itoa(spec.Visibility)
	}
	if spec.DeadLetter > 0 {
		dlq = create(t, c, name+"-dlq", nil)
		attrs["RedrivePolicy"] = `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":"` + strconv.Itoa(spec.DeadLetter) + `"}`
	}
	src = create(t, c, name, attrs)
	return src, dlq
}

func create(t testing.TB, c *sqsx.Client, name string, attrs map[string]string) testQueue {
	t.Helper()
	ctx := context.Background()
	url, err := c.CreateQueue(ctx, name, attrs)
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = c.DeleteQueue(context.Background(), url)
	})
	arn, err := sqsx.QueueARN(ctx, c, url)
	if err != nil {
		t.Fatal(err)
	}
	return testQueue{Name: name, URL: url, ARN: arn}
}

// deliver stands in for Lambda's event source mapping once: it polls q (waiting up to wait), hands the
// batch to fn and deletes the messages fn did not report failed. It returns the records delivered and
// the ids of those reported failed.
func deliver(t testing.TB, c *sqsx.Client, q testQueue, fn lambdax.SQSFunc, wait time.Duration) (records []events.SQSMessage, failed []string) {
	t.Helper()
	ctx := context.Background()
	ev, err := sqsx.Poll(ctx, c, q.URL, q.ARN, 10, wait, 0)
	if err != nil {
		t.Fatalf("poll %s: %v", q.Name, err)
	}
	if len(ev.Records) == 0 {
		return nil, nil
	}
	resp, err := fn(ctx, ev)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	bad := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		bad[f.ItemIdentifier] = true
		failed = append(failed, f.ItemIdentifier)
	}
	var dels []sqsx.DeleteEntry
	for i, r := range ev.Records {
		if !bad[r.MessageId] {
			dels = append(dels, sqsx.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: r.ReceiptHandle})
		}
	}
	if len(dels) > 0 {
		out, err := c.DeleteMessageBatch(ctx, q.URL, dels)
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("delete handled messages: %v %+v", err, out)
		}
	}
	return ev.Records, failed
}

// depth returns a queue's visible, in-flight and delayed counts.
func depth(t testing.TB, c *sqsx.Client, q testQueue) [3]int64 {
	t.Helper()
	ds, err := sqsx.NewQueues(c, map[string]string{"q": q.URL}).Depths(context.Background(), "q")
	if err != nil {
		t.Fatal(err)
	}
	return [3]int64{ds[0].Visible, ds[0].InFlight, ds[0].Delayed}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
