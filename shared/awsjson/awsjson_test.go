package awsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/awsjson/awsjsontest"
)

type echoIn struct {
	KeyID string            `json:"KeyId"`
	Blob  []byte            `json:"CiphertextBlob"`
	Ctx   map[string]string `json:"EncryptionContext"`
}

type echoOut struct {
	Plaintext []byte `json:"Plaintext"`
	KeyID     string `json:"KeyId"`
}

// A call is a signed POST / with the service's target and content type, for both protocol versions; the
// request and answer travel as JSON with blobs in base64.
func TestCallSignsTheRequest(t *testing.T) {
	t.Parallel()
	for _, svc := range []awsjson.Service{awsjson.KMS, awsjson.DynamoDB, awsjson.SSM, awsjson.SecretsManager} {
		t.Run(svc.SigningName, func(t *testing.T) {
			t.Parallel()
			var got echoIn
			var header http.Header
			fake := awsjsontest.NewServer(t, svc, map[string]awsjsontest.Operation{
				"Echo": func(in json.RawMessage) (any, error) {
					if !strings.Contains(string(in), `"CiphertextBlob":"AAEC/w=="`) {
						t.Errorf("request body %s: blob not in base64", in)
					}
					return echoOut{Plaintext: []byte{9, 8, 7}, KeyID: "k"}, json.Unmarshal(in, &got)
				},
			})
			fake.Config.Handler = recordHeader(fake.Config.Handler, &header)
			var out echoOut
			in := echoIn{KeyID: "alias/x", Blob: []byte{0, 1, 2, 255}, Ctx: map[string]string{"purpose": "test"}}
			if err := fake.Client(awsjson.Options{}).Call(context.Background(), "Echo", in, &out); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in, got); diff != "" {
				t.Errorf("request (-sent +received):\n%s", diff)
			}
			if diff := cmp.Diff(echoOut{Plaintext: []byte{9, 8, 7}, KeyID: "k"}, out); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			// awsjsontest.Check verified the signature; these are the parts a reader looks for.
			if h := header.Get("X-Amz-Target"); h != svc.TargetPrefix+".Echo" {
				t.Errorf("X-Amz-Target = %q", h)
			}
			if h := header.Get("Content-Type"); h != "application/x-amz-json-"+svc.JSONVersion {
				t.Errorf("Content-Type = %q", h)
			}
			if h := header.Get("Authorization"); !strings.Contains(h, "/"+awsjsontest.Region+"/"+svc.SigningName+"/aws4_request") {
				t.Errorf("Authorization = %q; want the credential scope of %s in %s", h, svc.SigningName, awsjsontest.Region)
			}
			date, err := time.Parse("20060102T150405Z", header.Get("X-Amz-Date"))
			if err != nil || time.Since(date).Abs() > time.Hour {
				t.Errorf("X-Amz-Date = %q (%v); want about now", header.Get("X-Amz-Date"), err)
			}
			if h := header.Get("X-Amz-Security-Token"); h != awsjsontest.SessionToken {
				t.Errorf("X-Amz-Security-Token = %q; want the session token", h)
			}
			if calls := fake.Calls(); len(calls) != 1 {
				t.Errorf("calls %v, want one", calls)
			}
		})
	}
}

// recordHeader keeps the last request's header.
func recordHeader(h http.Handler, dst *http.Header) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*dst = r.Header.Clone()
		h.ServeHTTP(w, r)
	})
}

// Credentials without a session token send no X-Amz-Security-Token.
func TestCallWithoutSessionToken(t *testing.T) {
	t.Parallel()
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	if err := awsjson.New(cfg, awsjson.SSM, awsjson.Options{Endpoint: srv.URL}).Call(context.Background(), "GetParameter", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := header["X-Amz-Security-Token"]; ok {
		t.Errorf("X-Amz-Security-Token sent without a session token: %q", header.Get("X-Amz-Security-Token"))
	}
	if h := header.Get("Authorization"); !strings.HasPrefix(h, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(h, "/us-east-1/ssm/aws4_request") {
		t.Errorf("Authorization = %q", h)
	}
}

// Without an endpoint override the client addresses the service's regional endpoint.
func TestEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		region, base, want string
		svc                awsjson.Service
	}{
		{region: "eu-north-1", svc: awsjson.KMS, want: "https://kms.eu-north-1.amazonaws.com/"},
		{region: "us-east-1", svc: awsjson.DynamoDB, want: "https://dynamodb.us-east-1.amazonaws.com/"},
		{region: "cn-north-1", svc: awsjson.SecretsManager, want: "https://secretsmanager.cn-north-1.amazonaws.com.cn/"},
		{region: "us-east-1", svc: awsjson.SSM, base: "http://127.0.0.1:4566", want: "http://127.0.0.1:4566/"},
	}
	for _, tt := range tests {
		var got string
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.URL.String()
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{}`)), Header: http.Header{}}, nil
		})}
		cfg := aws.Config{Region: tt.region, Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
		if tt.base != "" {
			cfg.BaseEndpoint = aws.String(tt.base)
		}
		if err := awsjson.New(cfg, tt.svc, awsjson.Options{HTTPClient: client}).Call(context.Background(), "Op", struct{}{}, nil); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s in %s: URL %s, want %s", tt.svc.SigningName, tt.region, got, tt.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Error answers become *awsjson.Error with the short type, the message and the raw body, whichever way the
// service spells them; client errors are not tried again.
func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header string // X-Amzn-ErrorType
		body   string
		want   awsjson.Error
	}{
		{name: "namespaced __type", status: 400,
			body: `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"pk":{"S":"x"}}}`,
			want: awsjson.Error{Status: 400, Type: "ConditionalCheckFailedException", Message: "The conditional request failed"}},
		{name: "header wins, suffix dropped", status: 400, header: "ParameterNotFound:http://internal.amazon.com/coral/com.amazonaws.ssm/",
			body: `{"__type":"Other","Message":"no such parameter"}`,
			want: awsjson.Error{Status: 400, Type: "ParameterNotFound", Message: "no such parameter"}},
		{name: "code", status: 403, body: `{"code":"AccessDeniedException","message":"denied"}`,
			want: awsjson.Error{Status: 403, Type: "AccessDeniedException", Message: "denied"}},
		{name: "not JSON", status: 404, body: `<html>not found</html>`,
			want: awsjson.Error{Status: 404, Type: "Not Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("X-Amzn-RequestId", "req-1")
				if tt.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := awsjson.New(awsjsontest.Config(), awsjson.DynamoDB, awsjson.Options{Endpoint: srv.URL})
			callErr := c.Call(context.Background(), "PutItem", struct{}{}, nil)
			wrapped := fmt.Errorf("store: %w", callErr)
			var got *awsjson.Error
			if !errors.As(wrapped, &got) {
				t.Fatalf("err = %v; want an *awsjson.Error", callErr)
			}
			want := tt.want
			want.Operation, want.RequestID, want.Body = "DynamoDB_20120810.PutItem", "req-1", []byte(tt.body)
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if awsjson.ErrorType(wrapped) != tt.want.Type {
				t.Errorf("ErrorType = %q, want %q", awsjson.ErrorType(wrapped), tt.want.Type)
			}
			if !strings.Contains(callErr.Error(), "DynamoDB_20120810.PutItem") || !strings.Contains(callErr.Error(), tt.want.Type) {
				t.Errorf("Error() = %q; want the operation and the type", callErr.Error())
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d attempts at a %d; want 1", n, tt.status)
			}
		})
	}
	if awsjson.ErrorType(errors.New("plain")) != "" || awsjson.ErrorType(nil) != "" {
		t.Error("ErrorType of an error without *awsjson.Error is not empty")
	}
}

// Throttling, 5xx, a dropped connection and a corrupted answer are tried again, at most MaxAttempts times.
func TestRetries(t *testing.T) {
	t.Parallel()
	throttled := func(w http.ResponseWriter) {
		awsjsontest.WriteError(w, 400, "ThrottlingException", "Rate exceeded")
	}
	unavailable := func(w http.ResponseWriter) {
		awsjsontest.WriteError(w, 503, "ServiceUnavailable", "")
	}
	ok := func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"KeyId":"k"}`) }
	tests := []struct {
		name        string
		maxAttempts int
		answers     []func(http.ResponseWriter) // by attempt; the last repeats
		wantCalls   int32
		wantType    string // "" for success
	}{
		{name: "5xx then success", answers: []func(http.ResponseWriter){unavailable, unavailable, ok}, wantCalls: 3},
		{name: "throttled then success", answers: []func(http.ResponseWriter){throttled, ok}, wantCalls: 2},
		{name: "always throttled", answers: []func(http.ResponseWriter){throttled}, wantCalls: 3, wantType: "ThrottlingException"},
		{name: "always 5xx, 5 attempts", maxAttempts: 5, answers: []func(http.ResponseWriter){unavailable}, wantCalls: 5, wantType: "ServiceUnavailable"},
		{name: "retries off", maxAttempts: 1, answers: []func(http.ResponseWriter){unavailable}, wantCalls: 1, wantType: "ServiceUnavailable"},
		{name: "dropped connection then success", answers: []func(http.ResponseWriter){hangUp, ok}, wantCalls: 2},
		{name: "CRC32 mismatch then success", answers: []func(http.ResponseWriter){badCRC, crcOK}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				tt.answers[min(n, len(tt.answers))-1](w)
			}))
			defer srv.Close()
			c := awsjson.New(awsjsontest.Config(), awsjson.KMS, awsjson.Options{Endpoint: srv.URL, MaxAttempts: tt.maxAttempts})
			var out struct{ KeyID string }
			err := c.Call(context.Background(), "Decrypt", struct{}{}, &out)
			if got := awsjson.ErrorType(err); got != tt.wantType || (tt.wantType == "" && err != nil) {
				t.Errorf("err = %v; want type %q", err, tt.wantType)
			}
			if tt.wantType == "" && out.KeyID != "k" {
				t.Errorf("answer %+v, want the successful attempt's", out)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d attempts, want %d", got, tt.wantCalls)
			}
		})
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

const crcBody = `{"KeyId":"k"}`

func badCRC(w http.ResponseWriter) {
	w.Header().Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE([]byte(crcBody))+1))
	_, _ = io.WriteString(w, crcBody)
}

func crcOK(w http.ResponseWriter) {
	w.Header().Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE([]byte(crcBody))))
	_, _ = io.WriteString(w, crcBody)
}

// The caller's context ends the call, also between attempts; Timeout ends only the attempt, which is
// then tried again.
func TestContext(t *testing.T) {
	t.Parallel()
	t.Run("cancelled during backoff", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			cancel()
			awsjsontest.WriteError(w, 500, "InternalServerError", "")
		}))
		defer srv.Close()
		c := awsjson.New(awsjsontest.Config(), awsjson.KMS, awsjson.Options{Endpoint: srv.URL, MaxAttempts: 10})
		err := c.Call(ctx, "Decrypt", struct{}{}, nil)
		if !errors.Is(err, context.Canceled) && awsjson.ErrorType(err) != "InternalServerError" {
			t.Errorf("err = %v; want the cancellation or the last answer", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d attempts after the context was cancelled in the first; want 1", n)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := awsjson.New(awsjsontest.Config(), awsjson.KMS, awsjson.Options{Endpoint: srv.URL}).Call(ctx, "Decrypt", struct{}{}, nil)
		if !errors.Is(err, context.Canceled) || calls.Load() != 0 {
			t.Errorf("err = %v after %d calls; want context.Canceled and none", err, calls.Load())
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
			if calls.Add(1) == 1 {
				select { // the first attempt hangs until the client gives up on it
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
				return
			}
			_, _ = io.WriteString(w, `{}`)
		}))
		defer srv.Close()
		c := awsjson.New(awsjsontest.Config(), awsjson.KMS, awsjson.Options{Endpoint: srv.URL, Timeout: 100 * time.Millisecond})
		if err := c.Call(context.Background(), "Decrypt", struct{}{}, nil); err != nil {
			t.Errorf("err = %v; want the second attempt's success", err)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
	})
}

// Without credentials (awsenv outside Lambda) every call fails with awsenv.ErrNoCredentials, before any
// request.
func TestNoCredentials(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	cfg := awsenv.Config(func(string) string { return "" }, awsenv.Options{Region: "eu-north-1"})
	err := awsjson.New(cfg, awsjson.SSM, awsjson.Options{Endpoint: srv.URL}).Call(context.Background(), "GetParameter", struct{}{}, nil)
	if !errors.Is(err, awsenv.ErrNoCredentials) || calls.Load() != 0 {
		t.Errorf("err = %v after %d requests; want ErrNoCredentials and none", err, calls.Load())
	}
}
