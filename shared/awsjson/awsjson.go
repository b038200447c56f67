// Package awsjson is a small client for the AWS APIs that speak the JSON protocol (awsJson1_0 and
// awsJson1_1): every operation is a POST of a JSON document to "/" naming the operation in the
// X-Amz-Target header, signed with Signature Version 4. DynamoDB, KMS, SSM, Secrets Manager and SQS are
// such APIs.
//
// It stands in for the SDK's generated service clients in the few places that call one or two operations
// of a service: each generated client links megabytes of code and runs milliseconds of package
// initialisation (endpoint rule sets, schemas) at every cold start, for what here is one signed POST.
// The SDK's own signer (aws/signer/v4) and credential types are still used, so signing is the SDK's.
//
// Callers describe the request and answer shapes as Go structs with the API's member names as JSON
// names; blob members are []byte (base64 in JSON, as the protocol has them).
//
// Not covered, as nothing here needs it: FIPS and dual-stack endpoints, AWS_ENDPOINT_URL_* variables,
// clock-skew correction, response compression, and the query, REST and CBOR protocols.
package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service describes one JSON-protocol API: how requests to it are addressed and signed.
type Service struct {
	// SigningName is the service name in the SigV4 credential scope, e.g. "dynamodb".
	SigningName string
	// EndpointPrefix is the host's first label: https://<EndpointPrefix>.<region>.amazonaws.com.
	EndpointPrefix string
	// TargetPrefix precedes the operation in X-Amz-Target: "<TargetPrefix>.<Operation>".
	TargetPrefix string
	// JSONVersion is the protocol version of the Content-Type: "1.0" (awsJson1_0) or "1.1" (awsJson1_1).
	JSONVersion string
}

// The services this module calls.
var (
	DynamoDB       = Service{SigningName: "dynamodb", EndpointPrefix: "dynamodb", TargetPrefix: "DynamoDB_20120810", JSONVersion: "1.0"}
	KMS            = Service{SigningName: "kms", EndpointPrefix: "kms", TargetPrefix: "TrentService", JSONVersion: "1.1"}
	SSM            = Service{SigningName: "ssm", EndpointPrefix: "ssm", TargetPrefix: "AmazonSSM", JSONVersion: "1.1"}
	SecretsManager = Service{SigningName: "secretsmanager", EndpointPrefix: "secretsmanager", TargetPrefix: "secretsmanager", JSONVersion: "1.1"}
	SQS            = Service{SigningName: "sqs", EndpointPrefix: "sqs", TargetPrefix: "AmazonSQS", JSONVersion: "1.0"}
)

// Defaults of Options.
const (
	DefaultMaxAttempts = 3
	// maxResponseBytes bounds the body read from one answer (a DynamoDB item is at most 400 KB, a secret
	// 64 KB); a longer body is an error rather than a memory spike.
	maxResponseBytes = 16 << 20
	// backoffBase and backoffCap shape the jittered exponential backoff between attempts: attempt n
	// (from 1) waits a uniform random time in [0, min(backoffCap, backoffBase*2^n)).
	backoffBase = 50 * time.Millisecond
	backoffCap  = time.Second
)

// Options are the settings of one Client.
type Options struct {
	// Endpoint replaces https://<EndpointPrefix>.<region>.amazonaws.com, e.g. a local DynamoDB
	// (http://127.0.0.1:8000). When empty, the aws.Config's BaseEndpoint is used if it has one.
	Endpoint string
	// Timeout bounds one attempt (connecting, sending and reading the answer); 0 means only the caller's
	// context bounds it.
	Timeout time.Duration
	// MaxAttempts is how many times a call is tried when the answer is a throttling error, a 5xx or a
	// transport failure; 0 means DefaultMaxAttempts, 1 disables retries.
	MaxAttempts int
	// HTTPClient sends the requests; nil means a client of this package's own (see newHTTPClient).
	HTTPClient *http.Client
}

// Client calls one JSON-protocol service. It is safe for concurrent use.
type Client struct {
	svc         Service
	url         string
	region      string
	creds       aws.CredentialsProvider
	signer      *v4.Signer
	http        *http.Client
	timeout     time.Duration
	maxAttempts int
}

// New returns a client of svc taking the region and credentials from cfg (see shared/awsenv; cfg's
// HTTPClient and retryer are not used). It makes no request; a missing region or credentials fail the
// first call.
func New(cfg aws.Config, svc Service, o Options) *Client {
	endpoint := o.Endpoint
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	if endpoint == "" && cfg.Region != "" {
		endpoint = "https://" + svc.EndpointPrefix + "." + cfg.Region + "." + dnsSuffix(cfg.Region)
	}
	c := &Client{
		svc: svc, url: strings.TrimSuffix(endpoint, "/") + "/", region: cfg.Region, creds: cfg.Credentials,
		signer: v4.NewSigner(), http: o.HTTPClient, timeout: o.Timeout, maxAttempts: o.MaxAttempts,
	}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	return c
}

// dnsSuffix is the domain of a region's endpoints.
func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// newHTTPClient returns a client whose transport keeps connections to the one endpoint alive between
// invocations, bounds the connection phases so a stuck network fails an attempt instead of a whole
// invocation, and asks for no compression (answers are small, and DynamoDB's CRC32 covers the bytes as
// sent).
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}}
}

// Error is an error answer of the service, or the last of them when every attempt failed.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Type is the error's short shape name, e.g. "ConditionalCheckFailedException" (from the
	// X-Amzn-ErrorType header or the body's __type, without namespace or suffix).
	Type string
	// Message is the service's message, possibly empty.
	Message string
	// Operation is the X-Amz-Target of the call, e.g. "DynamoDB_20120810.PutItem".
	Operation string
	// RequestID is the x-amzn-RequestId of the answer, for AWS support.
	RequestID string
	// Body is the raw answer, for errors that carry data (DynamoDB returns the existing item with a
	// failed condition when asked to).
	Body []byte
}

// Error returns the operation, status, type, message and request id in one line.
func (e *Error) Error() string {
	s := fmt.Sprintf("awsjson: %s: %d %s", e.Operation, e.Status, e.Type)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// ErrorType returns the Type of the *Error in err's chain, or "" when there is none.
func ErrorType(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

// Call invokes operation with in (marshalled with encoding/json) and decodes the answer into out (a
// pointer, or nil to discard it). Throttling errors, 5xx answers and transport failures are tried again
// up to MaxAttempts times with jittered backoff, within ctx; a request whose answer was lost may thus
// reach the service twice, as with the SDK. It returns a *Error for an error answer of the service;
// credential, transport, context and decoding errors otherwise, wrapped with %w.
func (c *Client) Call(ctx context.Context, operation string, in, out any) error {
	target := c.svc.TargetPrefix + "." + operation
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("awsjson: %s: encode request: %w", target, err)
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	for attempt := 1; ; attempt++ {
		answer, err := c.attempt(ctx, target, body, payloadHash)
		if err == nil {
			if out == nil || len(answer) == 0 {
				return nil
			}
			if err := json.Unmarshal(answer, out); err != nil {
				return fmt.Errorf("awsjson: %s: decode answer: %w", target, err)
			}
			return nil
		}
		var retry *retryable
		if !errors.As(err, &retry) {
			return err
		}
		if attempt >= c.maxAttempts || ctx.Err() != nil {
			return retry.err
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("awsjson: %s: %w (after %w)", target, ctx.Err(), retry.err)
		case <-t.C:
		}
	}
}

// retryable marks an attempt's error as worth another attempt.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }

// backoff is the wait after failed attempt n (from 1): full jitter over an exponentially growing, capped
// window.
func backoff(n int) time.Duration {
	window := min(backoffCap, backoffBase<<n)
	return rand.N(window)
}

// attempt sends one signed request and returns the answer's body on a 2xx.
func (c *Client) attempt(ctx context.Context, target string, body []byte, payloadHash string) ([]byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if c.creds == nil {
		return nil, fmt.Errorf("awsjson: %s: no credentials provider", target)
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsjson: %s: credentials: %w", target, err)
	}
	if c.region == "" {
		return nil, fmt.Errorf("awsjson: %s: no region", target)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("awsjson: %s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-"+c.svc.JSONVersion)
	req.Header.Set("X-Amz-Target", target)
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, c.svc.SigningName, c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("awsjson: %s: sign: %w", target, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Connection refused or reset, the attempt's timeout, ...; Call does not try again once the
		// caller's own context is done.
		return nil, &retryable{fmt.Errorf("awsjson: %s: %w", target, err)}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err == nil && len(answer) > maxResponseBytes {
		err = fmt.Errorf("answer over %d bytes", maxResponseBytes)
	}
	if err == nil {
		err = checkCRC32(resp.Header.Get("X-Amz-Crc32"), answer)
	}
	if err != nil {
		return nil, &retryable{fmt.Errorf("awsjson: %s: read answer: %w", target, err)}
	}
	if resp.StatusCode/100 == 2 {
		return answer, nil
	}
	e := decodeError(resp, answer)
	e.Operation = target
	if resp.StatusCode >= 500 || throttling[e.Type] {
		return nil, &retryable{e}
	}
	return nil, e
}

// checkCRC32 compares DynamoDB's X-Amz-Crc32 header, when there is one, with the body.
func checkCRC32(header string, body []byte) error {
	if header == "" {
		return nil
	}
	want, err := strconv.ParseUint(header, 10, 32)
	if err != nil {
		return fmt.Errorf("X-Amz-Crc32 %q: %w", header, err)
	}
	if got := crc32.ChecksumIEEE(body); got != uint32(want) {
		return fmt.Errorf("CRC32 of the answer is %d, X-Amz-Crc32 says %d", got, want)
	}
	return nil
}

// throttling lists the error types that mean "slow down" (the SDK's retryable throttle codes that the
// JSON services use); they are tried again like a 5xx.
var throttling = map[string]bool{
	"Throttling":                             true,
	"ThrottlingException":                    true,
	"ThrottledException":                     true,
	"RequestThrottledException":              true,
	"TooManyRequestsException":               true,
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"RequestThrottled":                       true, // SQS
	"LimitExceededException":                 true,
	"TransactionInProgressException":         true,
}

// decodeError reads an error answer: the type from X-Amzn-ErrorType or the body's __type (or code), the
// message from the body's message (or Message).
func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-RequestId"), Body: body}
	var doc struct {
		Type         string `json:"__type"`
		Code         string `json:"code"`
		Message      string `json:"message"`
		MessageUpper string `json:"Message"`
	}
	_ = json.Unmarshal(body, &doc) // a body that is not JSON still leaves the status and the header
	e.Type = shortType(resp.Header.Get("X-Amzn-ErrorType"))
	if e.Type == "" {
		e.Type = shortType(doc.Type)
	}
	if e.Type == "" {
		e.Type = shortType(doc.Code)
	}
	if e.Type == "" {
		e.Type = http.StatusText(resp.StatusCode)
	}
	e.Message = doc.Message
	if e.Message == "" {
		e.Message = doc.MessageUpper
	}
	return e
}

// shortType strips a namespace ("com.amazonaws.dynamodb.v20120810#") and a suffix after a colon
// ("ConditionalCheckFailedException:http://internal.amazon.com/...") from an error type.
func shortType(s string) string {
	s, _, _ = strings.Cut(s, ":")
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}
