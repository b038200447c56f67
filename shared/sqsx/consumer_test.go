package sqsx_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/sqsx"
)

var errBoom = errors.New("boom")

// On a failure the Consumer hides the message for its backoff: on a queue whose visibility timeout is 0
// (so a received message is visible again at once unless something changes it), the failed message is
// not receivable right after. A Permanent failure skips the backoff: the message is back at once.
func TestConsumerBackoffSetsVisibility(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	tests := []struct {
		name        string
		err         error
		opts        sqsx.Options
		visibleNext bool
	}{
		{"plain error hides the message", errBoom, sqsx.Options{}, false},
		{"resolved from configured queues", errBoom, sqsx.Options{ /* Queues set below */ }, false},
		{"permanent error returns it at once", sqsx.Permanent(errBoom), sqsx.Options{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, _ := newQueue(t, c, queueSpec{Visibility: -1})
			if strings.HasPrefix(tt.name, "resolved") {
				tt.opts.Queues = map[string]string{"jobs": q.URL}
			}
			if err := sqsx.NewPublisher(c, map[string]string{"q": q.URL}).Send(context.Background(), "q", sqsx.Message{ID: "m1", Body: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error {
				calls.Add(1)
				return tt.err
			}, tt.opts)
			recs, failed := deliver(t, c, q, lambdax.SQS(discard(), h), time.Second)
			if len(recs) != 1 || len(failed) != 1 || calls.Load() != 1 {
				t.Fatalf("delivered %d, failed %v, handler calls %d: want 1, 1, 1", len(recs), failed, calls.Load())
			}
			ev, err := sqsx.Poll(context.Background(), c, q.URL, q.ARN, 10, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ev.Records) == 1; got != tt.visibleNext {
				t.Fatalf("receivable right after the failure: %v, want %v", got, tt.visibleNext)
			}
			if tt.visibleNext && ev.Records[0].Attributes["ApproximateReceiveCount"] != "2" {
				t.Errorf("receive count = %q, want 2", ev.Records[0].Attributes["ApproximateReceiveCount"])
			}
			if !tt.visibleNext {
				if d := depth(t, c, q); d[1] != 1 {
					t.Errorf("in flight = %d, want the failed message", d[1])
				}
			}
		})
	}
}

// A poison message is tried maxReceiveCount times, then SQS moves it to the dead-letter queue; a redrive
// moves it back with its corral-id, and a fixed consumer handles it.
func TestPoisonMessageReachesDeadLetterQueueAndRedrives(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	const maxReceives = 2
	tests := []struct {
		name string
		err  error
	}{
		{"backoff", errBoom}, // one-second backoffs
		{"permanent", sqsx.Permanent(errBoom)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, dlq := newQueue(t, c, queueSpec{Visibility: 30, DeadLetter: maxReceives})
			queues := map[string]string{"poison": src.URL}
			if err := sqsx.NewPublisher(c, queues).Send(context.Background(), "poison", sqsx.Message{ID: "poison-1", Body: []byte(`{"bad":true}`)}); err != nil {
				t.Fatal(err)
			}
			var counts []int
			h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error {
				counts = append(counts, d.ReceiveCount)
				return tt.err
			}, sqsx.Options{BaseDelay: time.Second, MaxDelay: time.Second})
			fn := lambdax.SQS(discard(), h)
			for i := 0; depth(t, c, dlq)[0] == 0; i++ {
				if i > 10 {
					t.Fatalf("not in the dead-letter queue after %d polls; handler saw receive counts %v", i, counts)
				}
				deliver(t, c, src, fn, 2*time.Second)
			}
			if diff := cmp.Diff([]int{1, 2}, counts); diff != "" {
				t.Errorf("receive counts seen by the handler (-want +got):\n%s", diff)
			}

			ds, err := sqsx.NewQueues(c, queues).Depths(context.Background(), "poison")
			if err != nil {
				t.Fatal(err)
			}
			if d := ds[0]; d.Visible != 0 || d.MaxReceiveCount != maxReceives || d.DeadLetter == nil || d.DeadLetter.Visible != 1 || d.DeadLetter.Name != dlq.Name {
				t.Fatalf("depths = %+v (dead letter %+v)", d, d.DeadLetter)
			}

			moved, err := sqsx.NewQueues(c, queues).Redrive(context.Background(), "poison", 10)
			if err != nil || moved != 1 {
				t.Fatalf("Redrive = %d, %v; want 1, nil", moved, err)
			}
			if d := depth(t, c, dlq); d != [3]int64{} {
				t.Errorf("dead-letter queue after redrive = %v, want empty", d)
			}
			var got []sqsx.Delivery
			fixed := lambdax.SQS(discard(), sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error {
				got = append(got, d)
				return nil
			}, sqsx.Options{}))
			if recs, failed := deliver(t, c, src, fixed, 2*time.Second); len(recs) != 1 || len(failed) != 0 {
				t.Fatalf("after redrive: delivered %d, failed %v", len(recs), failed)
			}
			if got[0].ID != "poison-1" || string(got[0].Body) != `{"bad":true}` || got[0].ReceiveCount != 1 {
				t.Errorf("redriven delivery = id %q body %q receive count %d", got[0].ID, got[0].Body, got[0].ReceiveCount)
			}
		})
	}
}

func TestRedriveErrors(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	plain, _ := newQueue(t, c, queueSpec{})
	q := sqsx.NewQueues(c, map[string]string{"plain": plain.URL})
	if _, err := q.Redrive(context.Background(), "plain", 10); !errors.Is(err, sqsx.ErrNoDeadLetterQueue) {
		t.Errorf("Redrive of a queue without a dead-letter queue = %v, want ErrNoDeadLetterQueue", err)
	}
	if _, err := q.Redrive(context.Background(), "nope", 10); !errors.Is(err, sqsx.ErrUnknownQueue) {
		t.Errorf("Redrive of an unknown queue = %v, want ErrUnknownQueue", err)
	}
	if _, err := q.Depths(context.Background(), "plain", "nope"); !errors.Is(err, sqsx.ErrUnknownQueue) {
		t.Errorf("Depths of an unknown queue = %v, want ErrUnknownQueue", err)
	}
}

// Depths reports visible, in-flight and delayed messages of a queue and of its dead-letter queue.
func TestDepths(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	src, dlq := newQueue(t, c, queueSpec{Visibility: 60, DeadLetter: 3})
	plain, _ := newQueue(t, c, queueSpec{})
	queues := map[string]string{"jobs": src.URL, "plain": plain.URL}
	pub := sqsx.NewPublisher(c, queues)
	msgs := []sqsx.Message{
		{ID: "1", Body: []byte("{}")}, {ID: "2", Body: []byte("{}")}, {ID: "3", Body: []byte("{}")},
		{ID: "4", Body: []byte("{}"), Delay: time.Minute}, {ID: "5", Body: []byte("{}"), Delay: time.Minute},
	}
	if err := pub.Send(context.Background(), "jobs", msgs...); err != nil {
		t.Fatal(err)
	}
	if err := pub.Send(context.Background(), "plain", sqsx.Message{ID: "p", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if ev, err := sqsx.Poll(context.Background(), c, src.URL, src.ARN, 1, 0, 0); err != nil || len(ev.Records) != 1 {
		t.Fatalf("receive one: %d records, %v", len(ev.Records), err)
	}
	got, err := sqsx.NewQueues(c, queues).Depths(context.Background(), "jobs", "plain")
	if err != nil {
		t.Fatal(err)
	}
	want := []sqsx.Depth{
		{Name: "jobs", URL: src.URL, Visible: 2, InFlight: 1, Delayed: 2, MaxReceiveCount: 3,
			DeadLetter: &sqsx.Depth{Name: dlq.Name, URL: dlq.URL}},
		{Name: "plain", URL: plain.URL, Visible: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Depths (-want +got):\n%s", diff)
	}
}

func TestConsumerContextAndErrors(t *testing.T) {
	t.Parallel()
	c := newClient(t)

	t.Run("ended context: handler not called", func(t *testing.T) {
		t.Parallel()
		called := false
		h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error { called = true; return nil }, sqsx.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h(ctx, events.SQSMessage{MessageId: "m"}); !errors.Is(err, context.Canceled) || called {
			t.Errorf("h = %v, handler called %v; want context.Canceled, not called", err, called)
		}
	})

	t.Run("failed backoff is joined to the handler's error", func(t *testing.T) {
		t.Parallel()
		h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error { return errBoom }, sqsx.Options{})
		err := h(context.Background(), events.SQSMessage{MessageId: "m", ReceiptHandle: "r", EventSourceARN: "not-an-arn"})
		if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "set backoff") {
			t.Errorf("h = %v, want the handler's error joined with the backoff failure", err)
		}
	})

	t.Run("delivery fields", func(t *testing.T) {
		t.Parallel()
		var got sqsx.Delivery
		h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error { got = d; return nil }, sqsx.Options{})
		id, kind, num := "job-1", "x", "42"
		msg := events.SQSMessage{
			MessageId: "sqs-id", Body: "{}", Attributes: map[string]string{"ApproximateReceiveCount": "3"},
			MessageAttributes: map[string]events.SQSMessageAttribute{
				sqsx.IDAttribute: {DataType: "String", StringValue: &id},
				"kind":           {DataType: "String", StringValue: &kind},
				"n":              {DataType: "Number", StringValue: &num},
				"bin":            {DataType: "Binary", BinaryValue: []byte{1}},
			},
		}
		if err := h(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sqsx.Delivery{ID: "job-1", Body: []byte("{}"), ReceiveCount: 3,
			Attributes: map[string]string{"kind": "x", "n": "42"}, Raw: msg}, got); diff != "" {
			t.Errorf("delivery (-want +got):\n%s", diff)
		}
		if err := h(context.Background(), events.SQSMessage{MessageId: "sqs-id"}); err != nil || got.ID != "sqs-id" || got.ReceiveCount != 1 {
			t.Errorf("without corral-id: id %q, receive count %d (%v); want the SQS message id, 1", got.ID, got.ReceiveCount, err)
		}
	})
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	if sqsx.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	err := errors.Join(errors.New("context"), sqsx.Permanent(errBoom))
	if !sqsx.IsPermanent(err) || !errors.Is(err, errBoom) {
		t.Errorf("wrapped Permanent: IsPermanent %v, Is(errBoom) %v; want both", sqsx.IsPermanent(err), errors.Is(err, errBoom))
	}
	if sqsx.IsPermanent(errBoom) {
		t.Error("a plain error is permanent")
	}
}
