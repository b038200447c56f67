package lambdax

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// Prime never calls the handler it is given: a cold start runs it before the first event, and a call would
// run a request nobody sent.
func TestPrimeDoesNotCallTheHandler(t *testing.T) {
	called := false
	for _, h := range []any{
		HTTPFunc(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			called = true
			return events.APIGatewayV2HTTPResponse{}, nil
		}),
		SQSFunc(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			called = true
			return events.SQSEventResponse{}, nil
		}),
		ScheduleFunc(func(context.Context, events.EventBridgeEvent) error {
			called = true
			return nil
		}),
		func(context.Context, any) error { called = true; return nil }, // another kind: left alone
	} {
		Prime(h)
	}
	if called {
		t.Fatal("Prime called a handler")
	}
}

// The values Prime round-trips encode and decode without error for each kind of handler (an error would
// stop encoding/json before it reached the remaining fields), and another kind has none.
func TestPrimeValuesRoundTrip(t *testing.T) {
	for name, tc := range map[string]struct {
		handler any
		want    int
	}{
		"http":     {HTTPFunc(nil), 2},
		"sqs":      {SQSFunc(nil), 2},
		"schedule": {ScheduleFunc(nil), 1},
		"other":    {func() {}, 0},
	} {
		vals := primeValues(tc.handler)
		if len(vals) != tc.want {
			t.Errorf("%s: %d values, want %d", name, len(vals), tc.want)
		}
		for _, v := range vals {
			b, err := json.Marshal(v)
			if err != nil {
				t.Errorf("%s: marshal %T: %v", name, v, err)
				continue
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Errorf("%s: unmarshal %T: %v", name, v, err)
			}
		}
	}
}
