package lambdax_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rocker-app/corral/shared/lambdax"
)

func batch(ids ...string) events.SQSEvent {
	var ev events.SQSEvent
	for _, id := range ids {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: id, Body: "body of " + id,
			Attributes: map[string]string{"ApproximateReceiveCount": "2"},
		})
	}
	return ev
}

func failures(ids ...string) []events.SQSBatchItemFailure {
	var out []events.SQSBatchItemFailure
	for _, id := range ids {
		out = append(out, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return out
}

func TestSQS(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom: downstream refused")
	tests := []struct {
		name         string
		failOn       map[string]bool
		cancelBefore bool   // the context ends before the batch starts
		cancelAfter  string // the handler ends the context after handling this message
		wantHandled  []string
		wantFailures []events.SQSBatchItemFailure
		wantLogged   []string
	}{
		{
			name:        "all succeed",
			wantHandled: []string{"m1", "m2", "m3"},
		},
		{
			name:         "the second of three fails",
			failOn:       map[string]bool{"m2": true},
			wantHandled:  []string{"m1", "m2", "m3"},
			wantFailures: failures("m2"),
			wantLogged:   []string{`"message_id":"m2"`, `"receive_count":"2"`, "downstream refused"},
		},
		{
			name:         "all fail",
			failOn:       map[string]bool{"m1": true, "m2": true, "m3": true},
			wantHandled:  []string{"m1", "m2", "m3"},
			wantFailures: failures("m1", "m2", "m3"),
		},
		{
			name:         "cancelled before the batch",
			cancelBefore: true,
			wantFailures: failures("m1", "m2", "m3"),
		},
		{
			name:         "cancelled after the first message",
			cancelAfter:  "m1",
			wantHandled:  []string{"m1"},
			wantFailures: failures("m2", "m3"),
		},
		{
			name:         "cancelled while a message fails",
			failOn:       map[string]bool{"m2": true},
			cancelAfter:  "m2",
			wantHandled:  []string{"m1", "m2"},
			wantFailures: failures("m2", "m3"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelBefore {
				cancel()
			}
			var handled []string
			h := lambdax.SQS(slog.New(slog.NewJSONHandler(&logs, nil)), func(ctx context.Context, msg events.SQSMessage) error {
				handled = append(handled, msg.MessageId)
				if msg.Body != "body of "+msg.MessageId {
					t.Errorf("message %s has body %q", msg.MessageId, msg.Body)
				}
				if msg.MessageId == tt.cancelAfter {
					cancel()
				}
				if tt.failOn[msg.MessageId] {
					return errBoom
				}
				return nil
			})
			resp, err := h(ctx, batch("m1", "m2", "m3"))
			if err != nil {
				t.Fatalf("SQS returned %v; failures must be reported per message, never for the batch", err)
			}
			if diff := cmp.Diff(tt.wantHandled, handled); diff != "" {
				t.Errorf("handled (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailures, resp.BatchItemFailures, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("BatchItemFailures (-want +got):\n%s", diff)
			}
			for _, s := range tt.wantLogged {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("log lacks %s:\n%s", s, logs.String())
				}
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	errRun := errors.New("cleanup failed")
	var got time.Time
	run := lambdax.Schedule(func(_ context.Context, ev events.EventBridgeEvent) error {
		got = ev.Time
		return errRun
	})
	if err := run(context.Background(), events.EventBridgeEvent{Time: at, DetailType: "Scheduled Event"}); !errors.Is(err, errRun) {
		t.Errorf("Schedule returned %v, want the job's error", err)
	}
	if !got.Equal(at) {
		t.Errorf("job saw time %v, want %v", got, at)
	}
}
