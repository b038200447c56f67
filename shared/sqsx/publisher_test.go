package sqsx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/sqsx"
)

// A batch published in several SendMessageBatch calls is consumed whole, one message at a time, with its
// ids, bodies and attributes intact, and nothing is left in the queue.
func TestPublishAndConsumeBatch(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	// A short visibility timeout: now and then the local SQS server loses the answer to a ReceiveMessage
	// it has carried out (the client reads "use of closed network connection"), and the client's retry gets
	// the next messages; the lost ones come back after the timeout instead of after SQS's default 30 s.
	q, _ := newQueue(t, c, queueSpec{Visibility: 2})
	pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})

	const n = 25 // three batches
	want := map[string]string{}
	var msgs []sqsx.Message
	for i := range n {
		id := fmt.Sprintf("job-%02d", i)
		body := fmt.Sprintf(`{"n":%d}`, i)
		want[id] = body
		msgs = append(msgs, sqsx.Message{ID: id, Body: []byte(body), Attributes: map[string]string{"kind": "test.kind"}})
	}
	if err := pub.Send(context.Background(), "jobs", msgs...); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	got := map[string]string{}
	var bad []string
	h := sqsx.Consumer(c, discard(), "test", func(ctx context.Context, d sqsx.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		got[d.ID] = string(d.Body)
		// ReceiveCount is 2 for a message whose first receive was lost as above (consumer_test checks the count).
		if d.ReceiveCount < 1 || d.Attributes["kind"] != "test.kind" || len(d.Attributes) != 1 {
			bad = append(bad, fmt.Sprintf("%s: receive count %d, attributes %v", d.ID, d.ReceiveCount, d.Attributes))
		}
		return nil
	}, sqsx.Options{})
	fn := lambdax.SQS(discard(), h)
	for i := 0; len(got) < n; i++ {
		if i > 20 {
			t.Fatalf("consumed %d of %d messages", len(got), n)
		}
		if _, failed := deliver(t, c, q, fn, time.Second); len(failed) > 0 {
			t.Fatalf("failures reported: %v", failed)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consumed (-want +got):\n%s", diff)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if d := depth(t, c, q); d != [3]int64{} {
		t.Errorf("depth after consuming = %v, want empty", d)
	}
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	q, _ := newQueue(t, c, queueSpec{})
	pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
	ok := sqsx.Message{ID: "ok", Body: []byte("{}")}

	tests := []struct {
		name  string
		queue string
		msgs  []sqsx.Message
		want  string
	}{
		{"unknown queue", "nope", []sqsx.Message{ok}, "unknown queue"},
		{"no id", "jobs", []sqsx.Message{ok, {Body: []byte("{}")}}, "needs an ID"},
		{"delay past 15 minutes", "jobs", []sqsx.Message{ok, {ID: "late", Body: []byte("{}"), Delay: 16 * time.Minute}}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pub.Send(context.Background(), tt.queue, tt.msgs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if !errors.Is(pub.Send(context.Background(), "nope", ok), sqsx.ErrUnknownQueue) {
		t.Error("unknown queue does not wrap ErrUnknownQueue")
	}
	// Validation failed before anything was sent.
	if d := depth(t, c, q); d != [3]int64{} {
		t.Errorf("depth after refused sends = %v, want empty", d)
	}
}

// A SendError names exactly the messages that were not sent: the one SQS refused inside a batch, or every
// message when the call itself fails.
func TestSendErrorListsFailedEntries(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	q, _ := newQueue(t, c, queueSpec{})

	t.Run("refused entry", func(t *testing.T) {
		pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
		msgs := []sqsx.Message{{ID: "a", Body: []byte("fine")}, {ID: "b", Body: []byte("bad \x01 control")}, {ID: "c", Body: []byte("fine")}}
		err := pub.Send(context.Background(), "jobs", msgs...)
		var se *sqsx.SendError
		if !errors.As(err, &se) {
			t.Fatalf("Send = %v, want a *SendError", err)
		}
		if diff := cmp.Diff([]string{"b"}, se.FailedIDs()); diff != "" {
			t.Errorf("failed ids (-want +got):\n%s", diff)
		}
		if d := depth(t, c, q); d[0] != 2 {
			t.Errorf("visible messages = %d, want the 2 accepted", d[0])
		}
	})

	t.Run("failed call", func(t *testing.T) {
		pub := sqsx.NewPublisher(c, map[string]string{"gone": q.URL + "-missing"})
		var msgs []sqsx.Message
		var ids []string
		for i := range 12 {
			id := fmt.Sprintf("m%d", i)
			ids = append(ids, id)
			msgs = append(msgs, sqsx.Message{ID: id, Body: []byte("{}")})
		}
		err := pub.Send(context.Background(), "gone", msgs...)
		var se *sqsx.SendError
		if !errors.As(err, &se) {
			t.Fatalf("Send = %v, want a *SendError", err)
		}
		if diff := cmp.Diff(ids, se.FailedIDs()); diff != "" {
			t.Errorf("failed ids (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := pub.Send(ctx, "jobs", sqsx.Message{ID: "x", Body: []byte("{}")})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want it to wrap context.Canceled", err)
		}
	})
}

// A delayed message is counted as delayed, not visible.
func TestSendDelay(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	q, _ := newQueue(t, c, queueSpec{})
	pub := sqsx.NewPublisher(c, map[string]string{"jobs": q.URL})
	err := pub.Send(context.Background(), "jobs",
		sqsx.Message{ID: "now", Body: []byte("{}")},
		sqsx.Message{ID: "later", Body: []byte("{}"), Delay: 90 * time.Second},
		sqsx.Message{ID: "max", Body: []byte("{}"), Delay: sqsx.MaxDelay})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([3]int64{1, 0, 2}, depth(t, c, q)); diff != "" {
		t.Errorf("visible, in flight, delayed (-want +got):\n%s", diff)
	}
	ev, err := sqsx.Poll(context.Background(), c, q.URL, q.ARN, 10, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range ev.Records {
		ids = append(ids, aws.ToString(r.MessageAttributes[sqsx.IDAttribute].StringValue))
	}
	if diff := cmp.Diff([]string{"now"}, ids); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}
