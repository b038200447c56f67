package localrun_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/samtemplate"
	"github.com/rocker-app/corral/shared/sqsx"
)

// sqsEnv is a platform whose SQS client talks to the local SQS server; it fails the test when there is none.
func sqsEnv(t *testing.T) *platformtest.Env {
	t.Helper()
	if os.Getenv("SQS_ENDPOINT") == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	return platformtest.New(t)
}

func runnerTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("testdata", "runner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// createQueues creates the template's queues under a prefix of this test's own and deletes them afterwards.
func createQueues(t *testing.T, c *sqsx.Client, tpl *samtemplate.Template) map[string]localrun.LocalQueue {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	qs, err := localrun.CreateQueues(context.Background(), c, tpl, "test-"+hex.EncodeToString(b)+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range qs {
			if err := c.DeleteQueue(context.Background(), q.URL); err != nil {
				t.Errorf("delete queue %s: %v", q.LocalName, err)
			}
		}
	})
	return qs
}

// delivery is what the consumer saw of one message.
type delivery struct {
	Body, ReceiveCount, Attr, Source string
}

// TestRunnerDeliversAndRedrives sends a good and a poison message through the runner: the good one is
// handled once and deleted; the poison one is redelivered after its visibility timeout, handled
// maxReceiveCount (2) times, then the server moves it to the dead-letter queue.
func TestRunnerDeliversAndRedrives(t *testing.T) {
	t.Parallel()
	env := sqsEnv(t)
	tpl := runnerTemplate(t)
	c := env.Deps.SQS
	qs := createQueues(t, c, tpl)
	work, dlq := qs["work"], qs["work-dead-letter"]
	if work.MaxReceiveCount != 2 || dlq.URL == "" {
		t.Fatalf("queues %+v", qs)
	}

	var mu sync.Mutex
	var seen []delivery
	poisonDone := make(chan struct{})
	consumer := func(d *platform.Deps) lambdax.MessageHandler {
		return func(ctx context.Context, m events.SQSMessage) error {
			mu.Lock()
			defer mu.Unlock()
			attr := ""
			if a, ok := m.MessageAttributes["corral-id"]; ok && a.StringValue != nil {
				attr = *a.StringValue
			}
			seen = append(seen, delivery{Body: m.Body, ReceiveCount: m.Attributes["ApproximateReceiveCount"], Attr: attr, Source: m.EventSourceARN})
			if m.Body == "poison" {
				if m.Attributes["ApproximateReceiveCount"] == "2" {
					close(poisonDone)
				}
				return errors.New("poison")
			}
			return nil
		}
	}
	r := &localrun.Runner{
		Template: tpl, Deps: env.Deps, Queues: qs, WaitTime: time.Second,
		SQS:       map[string]platform.SQSFunction{"consumer": consumer},
		Schedules: map[string]platform.ScheduleFunction{"ticker": noopSchedule},
		After:     func(time.Duration) <-chan time.Time { return nil }, // the schedule never fires here
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	for _, body := range []string{"good", "poison"} {
		_, err := c.SendMessage(ctx, work.URL, sqsx.SendEntry{
			MessageBody:       body,
			MessageAttributes: map[string]sqsx.MessageAttribute{"corral-id": sqsx.StringAttribute("id-" + body)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-poisonDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the poison message was not redelivered within 30 s")
	}

	// The next receive after maxReceiveCount moves it to the dead-letter queue.
	var dead []sqsx.ReceivedMessage
	for deadline := time.Now().Add(30 * time.Second); len(dead) == 0 && time.Now().Before(deadline); {
		got, err := c.ReceiveMessage(ctx, sqsx.ReceiveInput{QueueURL: dlq.URL, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		dead = got
	}
	if len(dead) != 1 || dead[0].Body != "poison" {
		t.Fatalf("dead-letter queue holds %v, want the poison message", dead)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the cleanup

	mu.Lock()
	defer mu.Unlock()
	want := []delivery{
		{Body: "good", ReceiveCount: "1", Attr: "id-good", Source: work.ARN},
		{Body: "poison", ReceiveCount: "1", Attr: "id-poison", Source: work.ARN},
		{Body: "poison", ReceiveCount: "2", Attr: "id-poison", Source: work.ARN},
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	attrs, err := c.GetQueueAttributes(context.Background(), work.URL, "All")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		if n := attrs[a]; n != "0" {
			t.Errorf("work queue %s = %s, want 0 (the good message deleted, the poison one moved)", a, n)
		}
	}
}

func noopSchedule(*platform.Deps) func(context.Context, events.EventBridgeEvent) error {
	return func(context.Context, events.EventBridgeEvent) error { return nil }
}

// TestRunnerFiresSchedules pins the clock at 10:00 UTC: the nightly cron(0 3 * * ? *) waits 17 hours,
// then fires with a Scheduled Event stamped 03:00 the next day.
func TestRunnerFiresSchedules(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	tpl := runnerTemplate(t)
	now := time.Date(2031, 5, 17, 10, 0, 0, 0, time.UTC)

	var mu sync.Mutex
	var waits []time.Duration
	fired := make(chan events.EventBridgeEvent, 2)
	ticker := func(*platform.Deps) func(context.Context, events.EventBridgeEvent) error {
		return func(_ context.Context, ev events.EventBridgeEvent) error {
			fired <- ev
			return nil
		}
	}
	r := &localrun.Runner{
		Template: tpl, Deps: env.Deps, // no Queues: consumers are not polled
		Schedules: map[string]platform.ScheduleFunction{"ticker": ticker},
		Now:       func() time.Time { return now },
		After: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			ch := make(chan time.Time, 1)
			if len(waits) == 1 {
				ch <- now.Add(d) // fire the first wait at once; later ones never
			}
			return ch
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var ev events.EventBridgeEvent
	select {
	case ev = <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the schedule did not fire")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := time.Date(2031, 5, 18, 3, 0, 0, 0, time.UTC); !ev.Time.Equal(want) || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Errorf("event %+v, want a Scheduled Event at %s", ev, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) < 1 || waits[0] != 17*time.Hour {
		t.Errorf("waits %v, want 17h first", waits)
	}
}

func TestRunnerRefusesMissingFunctions(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	tpl := runnerTemplate(t)
	tests := []struct {
		name string
		r    *localrun.Runner
	}{
		{"no scheduled function", &localrun.Runner{Template: tpl, Deps: env.Deps}},
		{"no consumer", &localrun.Runner{Template: tpl, Deps: env.Deps, Queues: map[string]localrun.LocalQueue{},
			Schedules: map[string]platform.ScheduleFunction{"ticker": noopSchedule}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.r.Run(context.Background()); err == nil {
				t.Error("Run: err = nil, want the missing function named")
			}
		})
	}
}

// BenchmarkRunnerThroughput measures messages per second from the local SQS server through the runner
// to a consumer that does nothing: each iteration sends 100 messages in batches of 10 and waits until the
// consumer has seen them all.
func BenchmarkRunnerThroughput(b *testing.B) {
	if os.Getenv("SQS_ENDPOINT") == "" {
		b.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	env := platformtest.New(b)
	tpl, err := samtemplate.Load(filepath.Join("testdata", "runner.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	c := env.Deps.SQS
	rb := make([]byte, 6)
	if _, err := rand.Read(rb); err != nil {
		b.Fatal(err)
	}
	qs, err := localrun.CreateQueues(context.Background(), c, tpl, "bench-"+hex.EncodeToString(rb)+"-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, q := range qs {
			_ = c.DeleteQueue(context.Background(), q.URL)
		}
	})
	seen := make(chan struct{}, 1000)
	consumer := func(*platform.Deps) lambdax.MessageHandler {
		return func(context.Context, events.SQSMessage) error {
			seen <- struct{}{}
			return nil
		}
	}
	env.Deps.Log = slog.New(slog.DiscardHandler)
	r := &localrun.Runner{Template: tpl, Deps: env.Deps, Queues: qs, WaitTime: time.Second,
		SQS:       map[string]platform.SQSFunction{"consumer": consumer},
		Schedules: map[string]platform.ScheduleFunction{"ticker": noopSchedule},
		After:     func(time.Duration) <-chan time.Time { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const perIteration = 100
	entries := make([]sqsx.SendEntry, 10)
	for i := range entries {
		entries[i] = sqsx.SendEntry{ID: strconv.Itoa(i), MessageBody: "m"}
	}
	start := time.Now()
	for b.Loop() {
		for range perIteration / 10 {
			if _, err := c.SendMessageBatch(ctx, qs["work"].URL, entries); err != nil {
				b.Fatal(err)
			}
		}
		for range perIteration {
			<-seen
		}
	}
	b.ReportMetric(float64(b.N*perIteration)/time.Since(start).Seconds(), "msgs/s")
}

// Firings do not wait for the previous run, as in EventBridge: the second run starts while the first still
// runs (the outbox relay polls for longer than its schedule's minute and relies on it), and stopping the
// runner cancels the runs in flight.
func TestRunnerSchedulesOverlap(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	now := time.Date(2031, 5, 17, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	fires := 0
	started := make(chan struct{}, 2)
	ticker := func(*platform.Deps) func(context.Context, events.EventBridgeEvent) error {
		return func(ctx context.Context, _ events.EventBridgeEvent) error {
			started <- struct{}{}
			<-ctx.Done() // runs until the runner stops
			return nil
		}
	}
	r := &localrun.Runner{
		Template: runnerTemplate(t), Deps: env.Deps,
		Schedules: map[string]platform.ScheduleFunction{"ticker": ticker},
		Now:       func() time.Time { return now },
		After: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			defer mu.Unlock()
			fires++
			ch := make(chan time.Time, 1)
			if fires <= 2 {
				ch <- now.Add(d) // the first two firings at once; later ones never
			}
			return ch
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for i := range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d did not start while run 1 was still running", i+1)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the runner did not stop its runs in flight")
	}
}
