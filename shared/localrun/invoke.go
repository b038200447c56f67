package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// Invoker runs one function's Lambda handler on an event file, like `sam local invoke -e`.
type Invoker struct {
	Template  *samtemplate.Template
	Deps      *platform.Deps
	Functions map[string]platform.HTTPFunction
	// SQS and Schedules build the queue consumers and scheduled functions (catalog.SQS(),
	// catalog.Schedules()); nil when only HTTP functions are invoked.
	SQS       map[string]platform.SQSFunction
	Schedules map[string]platform.ScheduleFunction
}

// Invoke runs function name on event with the handler of its kind: InvokeHTTP for HTTP functions (token
// as there), InvokeSQS for queue consumers, InvokeSchedule for scheduled functions. It returns the
// function's response (an events.APIGatewayV2HTTPResponse, an events.SQSEventResponse, or nil for a
// scheduled run), and fails as the method it chose does, or when no catalog builds the function.
func (iv *Invoker) Invoke(ctx context.Context, name string, event []byte, token string) (any, error) {
	if _, ok := iv.Functions[name]; ok {
		return iv.InvokeHTTP(ctx, name, event, token)
	}
	if _, ok := iv.SQS[name]; ok {
		return iv.InvokeSQS(ctx, name, event)
	}
	if _, ok := iv.Schedules[name]; ok {
		return nil, iv.InvokeSchedule(ctx, name, event)
	}
	return nil, fmt.Errorf("localrun: no function %q in the catalog", name)
}

// InvokeSQS runs queue consumer name on an SQS event (events/<name>/*.json hold events.SQSEvent batches)
// and returns its response: the messages it failed are in BatchItemFailures. It fails when the function
// has no SQS event in template.yaml or no consumer in the catalog, when the event is not an SQS batch, or
// when the invocation itself fails (Lambda would retry the whole batch).
func (iv *Invoker) InvokeSQS(ctx context.Context, name string, event []byte) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	fn, ok := iv.Template.Function(name)
	if !ok {
		return resp, fmt.Errorf("localrun: no function %q in template.yaml", name)
	}
	if len(fn.SQS) == 0 {
		return resp, fmt.Errorf("localrun: function %q %w", name, errNotConsumer)
	}
	build, ok := iv.SQS[name]
	if !ok {
		return resp, fmt.Errorf("localrun: function %q has no SQS consumer in the catalog", name)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return resp, fmt.Errorf("localrun: event is not an SQS event: %w", err)
	}
	if len(ev.Records) == 0 {
		return resp, fmt.Errorf("localrun: event is not an SQS event (no Records)")
	}
	for i, r := range ev.Records {
		if r.EventSource != "aws:sqs" || r.MessageId == "" {
			return resp, fmt.Errorf("localrun: record %d is not an SQS message (eventSource %q, messageId %q)", i, r.EventSource, r.MessageId)
		}
	}
	fd := *iv.Deps
	fd.Log = iv.Deps.Log.With(slog.String("function", name))
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()})
	return lambdax.SQS(fd.Log, build(&fd))(ctx, ev)
}

// InvokeSchedule runs scheduled function name on an EventBridge Scheduled Event (events/<name>/*.json)
// and returns the run's error. It also fails when the function has no Schedule event in template.yaml or
// none in the catalog, or when the event is not a Scheduled Event.
func (iv *Invoker) InvokeSchedule(ctx context.Context, name string, event []byte) error {
	fn, ok := iv.Template.Function(name)
	if !ok {
		return fmt.Errorf("localrun: no function %q in template.yaml", name)
	}
	if len(fn.Schedules) == 0 {
		return fmt.Errorf("localrun: function %q %w", name, errNotScheduled)
	}
	build, ok := iv.Schedules[name]
	if !ok {
		return fmt.Errorf("localrun: function %q has no scheduled function in the catalog", name)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("localrun: event is not an EventBridge event: %w", err)
	}
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		return fmt.Errorf("localrun: event is not a Scheduled Event (detail-type %q, source %q)", ev.DetailType, ev.Source)
	}
	fd := *iv.Deps
	fd.Log = iv.Deps.Log.With(slog.String("function", name))
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()})
	return lambdax.Schedule(build(&fd))(ctx, ev)
}

// InvokeHTTP runs function name on an API Gateway HTTP API v2 event. When token is not "" and the event
// carries no authorization header, it is sent as a bearer token (event files hold no secrets). The event's
// route key must be one of the function's routes in template.yaml.
func (iv *Invoker) InvokeHTTP(ctx context.Context, name string, event []byte, token string) (events.APIGatewayV2HTTPResponse, error) {
	var resp events.APIGatewayV2HTTPResponse
	fn, ok := iv.Template.Function(name)
	if !ok {
		return resp, fmt.Errorf("localrun: no function %q in template.yaml", name)
	}
	build, ok := iv.Functions[name]
	if !ok {
		return resp, fmt.Errorf("localrun: function %q has no HTTP handler", name)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(event, &ev); err != nil {
		return resp, fmt.Errorf("localrun: event is not an HTTP API v2 request: %w", err)
	}
	if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" {
		return resp, fmt.Errorf("localrun: event is not an HTTP API v2 request (version %q, no requestContext.http.method)", ev.Version)
	}
	if !slices.ContainsFunc(fn.Routes, func(r samtemplate.Route) bool { return r.Key() == ev.RouteKey }) {
		return resp, fmt.Errorf("localrun: route %q is not a route of %s in template.yaml", ev.RouteKey, name)
	}
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	if _, has := ev.Headers["authorization"]; !has && token != "" {
		ev.Headers["authorization"] = "Bearer " + token
	}
	if ev.RequestContext.RequestID == "" {
		ev.RequestContext.RequestID = newRequestID()
	}
	fd := *iv.Deps
	fd.Log = iv.Deps.Log.With(slog.String("function", name))
	h := lambdax.HTTP(platform.Handler(&fd, build(&fd)))
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: ev.RequestContext.RequestID})
	return h(ctx, ev)
}
