package lambdax_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/lambdax"
)

type ctxKey struct{}

// Then runs its function after the handler, on every invocation (failed ones too), with the invocation's
// context, and before the handler's result is returned.
func TestThenRunsAfterEachInvocation(t *testing.T) {
	t.Parallel()
	var steps []string
	after := func(ctx context.Context) { steps = append(steps, "after "+ctx.Value(ctxKey{}).(string)) }
	ctx := context.WithValue(context.Background(), ctxKey{}, "invocation")
	boom := errors.New("boom")

	h := lambdax.HTTPFunc(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		steps = append(steps, "http")
		return events.APIGatewayV2HTTPResponse{StatusCode: 201}, nil
	}).Then(after)
	if res, err := h(ctx, events.APIGatewayV2HTTPRequest{}); err != nil || res.StatusCode != 201 {
		t.Errorf("HTTP: %d, %v; want the handler's 201", res.StatusCode, err)
	}
	s := lambdax.SQSFunc(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		steps = append(steps, "sqs")
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}}}, nil
	}).Then(after)
	if res, err := s(ctx, events.SQSEvent{}); err != nil || len(res.BatchItemFailures) != 1 {
		t.Errorf("SQS: %+v, %v; want the handler's response", res, err)
	}
	e := lambdax.ScheduleFunc(func(context.Context, events.EventBridgeEvent) error {
		steps = append(steps, "schedule")
		return boom
	}).Then(after)
	if err := e(ctx, events.EventBridgeEvent{}); !errors.Is(err, boom) {
		t.Errorf("schedule: %v, want the handler's error", err)
	}
	want := []string{"http", "after invocation", "sqs", "after invocation", "schedule", "after invocation"}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}
