// Package lambdax adapts Corral's handlers to AWS Lambda's event shapes: HTTP API (payload v2) requests
// through aws-lambda-go-api-proxy, SQS batches with partial batch failures, and EventBridge schedules. The
// same http.Handler serves Lambda, the local runner and the tests.
package lambdax

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// HTTPFunc is the Lambda handler of an HTTP function.
type HTTPFunc func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// HTTP turns h into a Lambda handler for API Gateway HTTP API payload v2 events. The request context (and
// so the handler's r.Context()) carries the event's request context, readable with
// core.GetAPIGatewayV2ContextFromContext. A handler that returns without writing answers 200 with an empty
// body, as under net/http. The returned error is non-nil only when the event cannot be turned into a request.
func HTTP(h http.Handler) HTTPFunc {
	return httpadapter.NewV2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if !tw.wrote { // the adapter refuses a response without a status
			w.WriteHeader(http.StatusOK)
		}
	})).ProxyWithContext
}

// Then returns f followed by after, run before the response goes back to Lambda: the execution environment
// may be frozen as soon as it does, and ended without notice. after runs after every invocation, failed or not.
func (f HTTPFunc) Then(after func(context.Context)) HTTPFunc {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		defer after(ctx)
		return f(ctx, ev)
	}
}

// trackingWriter notes whether the handler wrote a status or a body.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// EventFromRequest builds the event API Gateway would send for r, matched to routeKey with the given path
// parameters. sourceIP stands in for requestContext.http.sourceIp. Bodies that are not valid UTF-8 are
// base64-encoded, as API Gateway does for binary media.
func EventFromRequest(r *http.Request, routeKey string, params map[string]string, sourceIP, requestID string) (events.APIGatewayV2HTTPRequest, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return events.APIGatewayV2HTTPRequest{}, err
		}
	}
	headers := map[string]string{}
	var cookies []string
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, c := range v {
				for _, part := range strings.Split(c, ";") {
					if part = strings.TrimSpace(part); part != "" {
						cookies = append(cookies, part)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(v, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, v := range q {
			query[k] = strings.Join(v, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "000000000000",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: "local",
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  "HTTP/1.1",
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, nil
}

// WriteResponse writes a Lambda HTTP response to w as API Gateway would.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if !resp.IsBase64Encoded {
		// Written from the string itself: no copy of the body.
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
		w.WriteHeader(status)
		_, err := io.WriteString(w, resp.Body)
		return err
	}
	body, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		return err
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}
