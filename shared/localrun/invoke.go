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
