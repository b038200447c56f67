package lambdax_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rocker-app/corral/shared/lambdax"
)

// binaryBody is not valid UTF-8, so API Gateway and the adapter must carry it base64-encoded.
var binaryBody = []byte{0x89, 'P', 'N', 'G', 0x00, 0xff, 0xfe, 0x80, 0x01}

// seen is what a handler observed of the request it was given.
type seen struct {
	Method     string
	Host       string
	Path       string
	ID         string
	Query      map[string][]string
	Cookies    map[string]string
	Custom     []string
	List       []string
	UserAgent  string
	Type       string
	Body       []byte
	RemoteAddr string
	GatewayOK  bool
	RequestID  string
	SourceIP   string
	RouteKey   string
}

// newMux routes like the functions do, and reports what each request looked like through got.
func newMux(got *seen) *http.ServeMux {
	record := func(r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			cookies[c.Name] = c.Value
		}
		gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
		*got = seen{
			Method: r.Method, Host: r.Host, Path: r.URL.Path, ID: r.PathValue("id"),
			Query: r.URL.Query(), Cookies: cookies,
			Custom: r.Header.Values("X-Custom"), List: r.Header.Values("X-List"),
			UserAgent: r.UserAgent(), Type: r.Header.Get("Content-Type"), Body: body,
			RemoteAddr: r.RemoteAddr,
			GatewayOK:  ok, RequestID: gw.RequestID, SourceIP: gw.HTTP.SourceIP, RouteKey: gw.RouteKey,
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /horses/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+r.PathValue("id")+`","name":"Bëss 🐎"}`)
	})
	mux.HandleFunc("POST /horses/{id}/photos", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Location", "/horses/"+r.PathValue("id")+"/photos/1")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(binaryBody)
	})
	mux.HandleFunc("GET /headers", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Vary", "Accept-Encoding")
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "accepted")
	})
	mux.HandleFunc("DELETE /horses/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /silent", func(w http.ResponseWriter, r *http.Request) {
		record(r) // writes nothing: net/http answers 200 with an empty body
	})
	return mux
}

// gatewayEvent is an HTTP API payload v2 event as API Gateway sends it.
func gatewayEvent(method, path, rawQuery string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       method + " " + path,
		RawPath:        path,
		RawQueryString: rawQuery,
		Headers:        map[string]string{"user-agent": "test-agent/1.0", "host": "api.example.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   method + " " + path,
			RequestID:  "gw-req-1",
			DomainName: "api.example.com",
			Stage:      "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9", UserAgent: "test-agent/1.0",
			},
		},
	}
}

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	ev := gatewayEvent(http.MethodGet, "/horses/h-42", "tag=bay&tag=mare&q=a%20b&empty=")
	ev.Cookies = []string{"session=abc", "theme=dark"}
	ev.Headers["x-custom"] = "one"
	ev.Headers["x-list"] = "a, b"
	ev.QueryStringParameters = map[string]string{"tag": "bay,mare", "q": "a b", "empty": ""}

	var got seen
	resp, err := lambdax.HTTP(newMux(&got))(context.Background(), ev)
	if err != nil {
		t.Fatalf("HTTP: %v", err)
	}
	want := seen{
		Method: http.MethodGet, Host: "api.example.com", Path: "/horses/h-42", ID: "h-42",
		Query:   map[string][]string{"tag": {"bay", "mare"}, "q": {"a b"}, "empty": {""}},
		Cookies: map[string]string{"session": "abc", "theme": "dark"},
		Custom:  []string{"one"}, List: []string{"a", "b"}, UserAgent: "test-agent/1.0",
		Body:       []byte{},
		RemoteAddr: "203.0.113.9",
		GatewayOK:  true, RequestID: "gw-req-1", SourceIP: "203.0.113.9", RouteKey: "GET /horses/h-42",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request seen by the handler (-want +got):\n%s", diff)
	}
	if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded {
		t.Errorf("status %d, base64 %v; want 200 and a text body", resp.StatusCode, resp.IsBase64Encoded)
	}
	if diff := cmp.Diff(`{"id":"h-42","name":"Bëss 🐎"}`, resp.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestHTTPBinaryBodies(t *testing.T) {
	t.Parallel()
	ev := gatewayEvent(http.MethodPost, "/horses/h-7/photos", "")
	ev.Headers["content-type"] = "image/png"
	ev.Body = base64.StdEncoding.EncodeToString(binaryBody)
	ev.IsBase64Encoded = true

	var got seen
	resp, err := lambdax.HTTP(newMux(&got))(context.Background(), ev)
	if err != nil {
		t.Fatalf("HTTP: %v", err)
	}
	if diff := cmp.Diff(binaryBody, got.Body); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
	if got.Type != "image/png" || got.ID != "h-7" {
		t.Errorf("handler saw Content-Type %q and id %q", got.Type, got.ID)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode)
	}
	if !resp.IsBase64Encoded {
		t.Fatalf("binary response not base64-encoded: %q", resp.Body)
	}
	body, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(binaryBody, body); diff != "" {
		t.Errorf("response body (-want +got):\n%s", diff)
	}
	if got := resp.Headers["Location"]; got != "/horses/h-7/photos/1" {
		t.Errorf("Location = %q", got)
	}
}

func TestHTTPResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantBody    string
		wantHeaders map[string]string // a subset of the response headers
		wantCookies []string
	}{
		{
			name: "multi-value headers and cookies", method: http.MethodGet, path: "/headers",
			wantStatus: http.StatusAccepted, wantBody: "accepted",
			wantHeaders: map[string]string{"Vary": "Origin,Accept-Encoding", "Content-Type": "text/plain; charset=utf-8"},
			wantCookies: []string{"a=1; Path=/", "b=2; HttpOnly"},
		},
		{name: "no content", method: http.MethodDelete, path: "/horses/h-1", wantStatus: http.StatusNoContent},
		{name: "nothing written", method: http.MethodGet, path: "/silent", wantStatus: http.StatusOK},
		{name: "no route", method: http.MethodGet, path: "/nowhere", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n"},
		{
			name: "wrong method", method: http.MethodPut, path: "/horses/h-1",
			wantStatus: http.StatusMethodNotAllowed, wantBody: "Method Not Allowed\n",
			wantHeaders: map[string]string{"Allow": "DELETE, GET, HEAD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got seen
			resp, err := lambdax.HTTP(newMux(&got))(context.Background(), gatewayEvent(tt.method, tt.path, ""))
			if err != nil {
				t.Fatalf("HTTP: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if resp.Body != tt.wantBody {
				t.Errorf("body = %q, want %q", resp.Body, tt.wantBody)
			}
			for k, v := range tt.wantHeaders {
				if resp.Headers[k] != v {
					t.Errorf("header %s = %q, want %q (all: %v)", k, resp.Headers[k], v, resp.Headers)
				}
			}
			if diff := cmp.Diff(tt.wantCookies, resp.Cookies, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("cookies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventFromRequest(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/horses/h-7/photos?tag=a&tag=b", bytes.NewReader(binaryBody))
	r.Header.Set("Content-Type", "image/png")
	r.Header.Add("X-Custom", "one")
	r.Header.Add("X-Custom", "two")
	r.Header.Set("Cookie", "session=abc; theme=dark")
	ev, err := lambdax.EventFromRequest(r, "POST /horses/{id}/photos", map[string]string{"id": "h-7"}, "198.51.100.1", "req-9")
	if err != nil {
		t.Fatalf("EventFromRequest: %v", err)
	}
	want := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "POST /horses/{id}/photos",
		RawPath:               "/horses/h-7/photos",
		RawQueryString:        "tag=a&tag=b",
		Cookies:               []string{"session=abc", "theme=dark"},
		Headers:               map[string]string{"content-type": "image/png", "x-custom": "one,two", "host": "api.example.com"},
		QueryStringParameters: map[string]string{"tag": "a,b"},
		PathParameters:        map[string]string{"id": "h-7"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "POST /horses/{id}/photos", AccountID: "000000000000", Stage: "$default", RequestID: "req-9",
			APIID: "local", DomainName: "api.example.com", DomainPrefix: "local",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodPost, Path: "/horses/h-7/photos", Protocol: "HTTP/1.1", SourceIP: "198.51.100.1",
			},
		},
		Body:            base64.StdEncoding.EncodeToString(binaryBody),
		IsBase64Encoded: true,
	}
	ignoreTime := cmpopts.IgnoreFields(events.APIGatewayV2HTTPRequestContext{}, "Time", "TimeEpoch")
	if diff := cmp.Diff(want, ev, ignoreTime); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	if ev.RequestContext.TimeEpoch == 0 || ev.RequestContext.Time == "" {
		t.Errorf("request time not set: %q %d", ev.RequestContext.Time, ev.RequestContext.TimeEpoch)
	}
}

// TestRoundTrip sends an httptest request through EventFromRequest, HTTP and WriteResponse, as the local
// runner does, and checks the handler and the client each see what a plain net/http server would give them.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		target     string
		routeKey   string
		params     map[string]string
		body       []byte
		wantStatus int
		wantBody   []byte
		wantType   string
	}{
		{
			name: "UTF-8", method: http.MethodGet, target: "/horses/h-42?tag=bay&tag=mare",
			routeKey: "GET /horses/{id}", params: map[string]string{"id": "h-42"},
			wantStatus: http.StatusOK, wantBody: []byte(`{"id":"h-42","name":"Bëss 🐎"}`), wantType: "application/json",
		},
		{
			name: "binary", method: http.MethodPost, target: "/horses/h-7/photos?tag=x",
			routeKey: "POST /horses/{id}/photos", params: map[string]string{"id": "h-7"}, body: binaryBody,
			wantStatus: http.StatusCreated, wantBody: binaryBody, wantType: "image/png",
		},
		{
			name: "UTF-8 request body", method: http.MethodPost, target: "/horses/h-8/photos",
			routeKey: "POST /horses/{id}/photos", params: map[string]string{"id": "h-8"}, body: []byte("naïve 🐴 text"),
			wantStatus: http.StatusCreated, wantBody: binaryBody, wantType: "image/png",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// What a plain net/http server hands the handler, for comparison.
			var direct seen
			mkReq := func() *http.Request {
				r := httptest.NewRequest(tt.method, "https://api.example.com"+tt.target, bytes.NewReader(tt.body))
				r.Header.Set("X-Custom", "one")
				r.Header.Set("User-Agent", "test-agent/1.0")
				r.AddCookie(&http.Cookie{Name: "session", Value: "abc"})
				if tt.body != nil {
					r.Header.Set("Content-Type", "application/octet-stream")
				}
				return r
			}
			directRec := httptest.NewRecorder()
			newMux(&direct).ServeHTTP(directRec, mkReq())

			var got seen
			ev, err := lambdax.EventFromRequest(mkReq(), tt.routeKey, tt.params, "198.51.100.1", "req-9")
			if err != nil {
				t.Fatalf("EventFromRequest: %v", err)
			}
			resp, err := lambdax.HTTP(newMux(&got))(context.Background(), ev)
			if err != nil {
				t.Fatalf("HTTP: %v", err)
			}
			rec := httptest.NewRecorder()
			if err := lambdax.WriteResponse(rec, resp); err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}

			// Through Lambda the handler also learns the gateway's view of the request.
			wantSeen := direct
			wantSeen.RemoteAddr = "198.51.100.1"
			wantSeen.GatewayOK, wantSeen.RequestID, wantSeen.SourceIP, wantSeen.RouteKey = true, "req-9", "198.51.100.1", tt.routeKey
			if diff := cmp.Diff(wantSeen, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("request seen through Lambda (-net/http +lambda):\n%s", diff)
			}
			if rec.Code != tt.wantStatus || directRec.Code != tt.wantStatus {
				t.Errorf("status = %d through Lambda, %d direct; want %d", rec.Code, directRec.Code, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, rec.Body.Bytes()); diff != "" {
				t.Errorf("response body (-want +got):\n%s", diff)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got, want := rec.Header().Get("Content-Length"), len(tt.wantBody); got != strconv.Itoa(want) {
				t.Errorf("Content-Length = %q, want %d", got, want)
			}
		})
	}
}

func TestWriteResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		wantStatus int
		wantHeader http.Header // compared on its own keys
		wantBody   string
		wantErr    bool
	}{
		{
			name:       "text",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`},
			wantStatus: 201, wantBody: `{"ok":true}`,
			wantHeader: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"11"}},
		},
		{
			name:       "base64",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString(binaryBody), IsBase64Encoded: true},
			wantStatus: 200, wantBody: string(binaryBody),
			wantHeader: http.Header{"Content-Length": {strconv.Itoa(len(binaryBody))}},
		},
		{
			name: "multi-value headers replace single ones, cookies become Set-Cookie",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:        200,
				Headers:           map[string]string{"Vary": "Origin", "X-One": "1"},
				MultiValueHeaders: map[string][]string{"Vary": {"Origin", "Accept"}},
				Cookies:           []string{"a=1; Path=/", "b=2"},
			},
			wantStatus: 200,
			wantHeader: http.Header{"Vary": {"Origin", "Accept"}, "X-One": {"1"}, "Set-Cookie": {"a=1; Path=/", "b=2"}, "Content-Length": {"0"}},
		},
		{name: "status 0 is 200", resp: events.APIGatewayV2HTTPResponse{Body: "x"}, wantStatus: 200, wantBody: "x"},
		{name: "bad base64", resp: events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			err := lambdax.WriteResponse(rec, tt.resp)
			if tt.wantErr {
				if err == nil {
					t.Error("WriteResponse succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body.String(), tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if diff := cmp.Diff(v, rec.Header().Values(k)); diff != "" {
					t.Errorf("header %s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

func TestEventFromRequestUTF8BodyStaysText(t *testing.T) {
	t.Parallel()
	body := `{"name":"Bëss 🐎"}`
	ev, err := lambdax.EventFromRequest(httptest.NewRequest(http.MethodPost, "/horses", strings.NewReader(body)), "POST /horses", nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if ev.IsBase64Encoded || ev.Body != body || ev.PathParameters != nil || ev.QueryStringParameters != nil {
		t.Errorf("event body %q (base64 %v), params %v, query %v; want the text as is and no params",
			ev.Body, ev.IsBase64Encoded, ev.PathParameters, ev.QueryStringParameters)
	}
}

// BenchmarkRoundTrip is the local runner's share of a request (API Gateway's, in AWS) and the adapter's:
// event from the request, the handler through HTTP, the response written back.
// go test -run '^$' -bench RoundTrip -benchmem ./shared/lambdax/
func BenchmarkRoundTrip(b *testing.B) {
	h := lambdax.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"41b9e73e-2e2e-4767-9bbe-9b584d45d1ad","name":"Copper Penny","breed":"Quarter Horse","sex":"gelding"}`))
	}))
	body := []byte(`{"name":"Star","description":"Lesson horse."}`)
	params := map[string]string{"id": "41b9e73e-2e2e-4767-9bbe-9b584d45d1ad"}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPatch, "http://api.local/horses/41b9e73e-2e2e-4767-9bbe-9b584d45d1ad", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "k-1")
		ev, err := lambdax.EventFromRequest(r, "PATCH /horses/{id}", params, "127.0.0.1", "req-1")
		if err != nil {
			b.Fatal(err)
		}
		resp, err := h(context.Background(), ev)
		if err != nil {
			b.Fatal(err)
		}
		if err := lambdax.WriteResponse(httptest.NewRecorder(), resp); err != nil {
			b.Fatal(err)
		}
	}
}
