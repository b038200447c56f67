package lambdax

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// Prime encodes and decodes, once, an event and a response of the kind handler takes and returns, as
// aws-lambda-go does for each invocation: encoding/json builds its per-type caches (every field of the
// nested event structs, found by reflection) the first time it meets a type, and that first time otherwise
// falls on the first invocation. Prime is pure CPU work, with no I/O and without calling handler; a cold
// start runs it during initialisation, before it asks for its first event (Lambda may initialise an
// environment before an event is there for it).
// A handler of another type is left as it is.
func Prime(handler any) {
	for _, v := range primeValues(handler) {
		if b, err := json.Marshal(v); err == nil {
			_ = json.Unmarshal(b, v)
		}
	}
}

// primeValues returns the event and response values Prime round-trips for handler's kind: pointers to
// values with every map, slice and nested struct filled, so decoding them walks each field's type.
func primeValues(handler any) []any {
	switch handler.(type) {
	case HTTPFunc:
		return []any{&events.APIGatewayV2HTTPRequest{
			Cookies: []string{"a=b"}, Headers: map[string]string{"a": "b"}, QueryStringParameters: map[string]string{"a": "b"},
			PathParameters: map[string]string{"a": "b"}, StageVariables: map[string]string{"a": "b"}, Body: "{}",
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"a": "b"}, Scopes: []string{"a"}},
				},
			},
		}, &events.APIGatewayV2HTTPResponse{Headers: map[string]string{"a": "b"}, MultiValueHeaders: map[string][]string{"a": {"b"}}, Cookies: []string{"a=b"}, Body: "{}"}}
	case SQSFunc:
		return []any{&events.SQSEvent{Records: []events.SQSMessage{{
			Attributes:        map[string]string{"a": "b"},
			MessageAttributes: map[string]events.SQSMessageAttribute{"a": {StringValue: new("b"), DataType: "String"}},
			Body:              "{}",
		}}}, &events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "a"}}}}
	case ScheduleFunc:
		return []any{&events.EventBridgeEvent{Resources: []string{"a"}, Detail: json.RawMessage(`{}`)}}
	}
	return nil
}
