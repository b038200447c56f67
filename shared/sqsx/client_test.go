package sqsx_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/sqsx"
)

// The client's calls against a real SQS-API server, field for field: a message sent alone with string,
// number and binary attributes comes back with them and its system attributes; a visibility of 0 is sent
// (not left out as a zero value) and makes the message visible again at once; a batch delete empties the
// queue.
func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	q, _ := newQueue(t, c, queueSpec{})

	got, err := c.GetQueueURL(ctx, q.Name, "")
	if err != nil || got != q.URL {
		t.Fatalf("GetQueueURL(%s) = %q, %v; want %q", q.Name, got, err, q.URL)
	}
	num := "42"
	id, err := c.SendMessage(ctx, q.URL, sqsx.SendEntry{
		MessageBody: `{"n":1}`,
		MessageAttributes: map[string]sqsx.MessageAttribute{
			"kind":  sqsx.StringAttribute("test"),
			"count": {DataType: "Number", StringValue: &num},
			"blob":  {DataType: "Binary", BinaryValue: []byte{0, 1, 2, 0xff}},
		},
	})
	if err != nil || id == "" {
		t.Fatalf("SendMessage = %q, %v", id, err)
	}
	receive := func() []sqsx.ReceivedMessage {
		t.Helper()
		msgs, err := c.ReceiveMessage(ctx, sqsx.ReceiveInput{
			QueueURL: q.URL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		return msgs
	}
	msgs := receive()
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != id || m.Body != `{"n":1}` || m.ReceiptHandle == "" || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("received %+v, want message %s with its body, a receipt handle and receive count 1", m, id)
	}
	wantAttrs := map[string]sqsx.MessageAttribute{
		"kind":  sqsx.StringAttribute("test"),
		"count": {DataType: "Number", StringValue: &num},
		"blob":  {DataType: "Binary", BinaryValue: []byte{0, 1, 2, 0xff}},
	}
	if diff := cmp.Diff(wantAttrs, m.MessageAttributes); diff != "" {
		t.Errorf("message attributes (-want +got):\n%s", diff)
	}

	// Hidden for 60 s by the receive; visibility 0 shows it again at once.
	if err := c.ChangeMessageVisibility(ctx, q.URL, m.ReceiptHandle, 0); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	again := receive()
	if len(again) != 1 || again[0].MessageID != id || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after visibility 0 received %+v, want the message again (receive count 2)", again)
	}

	// (fauxqs accepts any receipt handle, so a refused entry cannot be shown here; the publisher's tests
	// show SendMessageBatch's per-entry failures.)
	res, err := c.DeleteMessageBatch(ctx, q.URL, []sqsx.DeleteEntry{{ID: "only", ReceiptHandle: again[0].ReceiptHandle}})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	if len(res.Successful) != 1 || res.Successful[0].ID != "only" || len(res.Failed) != 0 {
		t.Errorf("DeleteMessageBatch = %+v, want entry only deleted", res)
	}
	attrs, err := c.GetQueueAttributes(ctx, q.URL, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
	if err != nil {
		t.Fatal(err)
	}
	if attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("after the delete the queue holds %v, want nothing", attrs)
	}
}

// An error answer is an *awsjson.Error with the short type, so callers can tell a missing queue.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	_, err := c.GetQueueURL(ctx, "corral-no-such-queue-7f3a", "")
	if typ := awsjson.ErrorType(err); typ != "QueueDoesNotExist" {
		t.Errorf("GetQueueURL of a missing queue: %v (type %q), want QueueDoesNotExist", err, typ)
	}
}
