// Package awsjsontest serves fakes of JSON-protocol AWS APIs for tests (paid outside APIs such as KMS,
// SSM and Secrets Manager). Server checks every request as AWS would before handing it to the fake's
// operation: POST to "/", the service's Content-Type and X-Amz-Target prefix, and a SigV4 signature for
// the service's signing name and the test region, recomputed from the request.
package awsjsontest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rocker-app/corral/shared/awsjson"
)

// The credentials and region of Client; Server accepts only requests signed with them.
const (
	Region       = "eu-north-1"
	AccessKeyID  = "AKIDEXAMPLE"
	SecretKey    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	SessionToken = "session-token-example"
)

// Operation answers one operation: in is the request's JSON; the answer is marshalled to JSON. Return an
// *awsjson.Error (Status, Type, Message) to answer with a service error.
type Operation func(in json.RawMessage) (any, error)

// Server is a fake service on an httptest.Server. It is safe for concurrent use.
type Server struct {
	*httptest.Server
	t   testing.TB
	svc awsjson.Service
	ops map[string]Operation

	mu    sync.Mutex
	calls []string
}

// NewServer starts a fake of svc answering ops (by operation name, without the target prefix); it is
// closed in t.Cleanup. A request that fails a check, or names an operation not in ops, fails the test
// and gets a 400.
func NewServer(t testing.TB, svc awsjson.Service, ops map[string]Operation) *Server {
	t.Helper()
	s := &Server{t: t, svc: svc, ops: ops}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Client returns a client of the fake's service, with the test credentials and region, sending to the
// fake. o.Endpoint is set to the fake's URL.
func (s *Server) Client(o awsjson.Options) *awsjson.Client {
	o.Endpoint = s.URL
	return awsjson.New(Config(), s.svc, o)
}

// Config is the aws.Config of Client: Region and the static test credentials with a session token.
func Config() aws.Config {
	return aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretKey, SessionToken)}
}

// Calls returns the operations called so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.reject(w, "read body: %v", err)
		return
	}
	if msg := Check(r, body, s.svc); msg != "" {
		s.reject(w, "%s", msg)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), s.svc.TargetPrefix+".")
	s.mu.Lock()
	s.calls = append(s.calls, op)
	s.mu.Unlock()
	handle, ok := s.ops[op]
	if !ok {
		s.reject(w, "operation %s is not faked", op)
		return
	}
	out, err := handle(body)
	var svcErr *awsjson.Error
	switch {
	case errors.As(err, &svcErr):
		WriteError(w, svcErr.Status, svcErr.Type, svcErr.Message)
	case err != nil:
		s.reject(w, "%s: %v", op, err)
	default:
		b, err := json.Marshal(out)
		if err != nil {
			s.reject(w, "%s: encode answer: %v", op, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-"+s.svc.JSONVersion)
		_, _ = w.Write(b)
	}
}

func (s *Server) reject(w http.ResponseWriter, format string, args ...any) {
	s.t.Errorf("awsjsontest: "+format, args...)
	WriteError(w, http.StatusBadRequest, "FakeRejected", "the fake rejected the request; see the test log")
}

// WriteError writes a service error answer the way the JSON protocol does: the status, and a body
// with __type (namespaced, as AWS sends it) and message.
func WriteError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.fake#" + typ, "message": message})
	_, _ = w.Write(b)
}

// Check returns what is wrong with r (whose body was read into body) as a request to svc signed with the
// test credentials for Region, or "" when nothing is: POST /, the Content-Type, the X-Amz-Target prefix,
// the session token, and the Authorization header, recomputed with the SDK's signer at X-Amz-Date.
func Check(r *http.Request, body []byte, svc awsjson.Service) string {
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return r.Method + " " + r.URL.Path + ", want POST /"
	case r.Header.Get("Content-Type") != "application/x-amz-json-"+svc.JSONVersion:
		return "Content-Type " + r.Header.Get("Content-Type") + ", want application/x-amz-json-" + svc.JSONVersion
	case !strings.HasPrefix(r.Header.Get("X-Amz-Target"), svc.TargetPrefix+"."):
		return "X-Amz-Target " + r.Header.Get("X-Amz-Target") + ", want " + svc.TargetPrefix + ".<Operation>"
	case r.Header.Get("X-Amz-Security-Token") != SessionToken:
		return "X-Amz-Security-Token " + r.Header.Get("X-Amz-Security-Token") + ", want the session token"
	}
	auth := r.Header.Get("Authorization")
	scope := "Credential=" + AccessKeyID + "/"
	i := strings.Index(auth, scope)
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || i < 0 {
		return "Authorization " + auth + ", want AWS4-HMAC-SHA256 with the test credentials"
	}
	// Credential=<key>/<date>/<region>/<service>/aws4_request
	parts := strings.Split(strings.SplitN(auth[i+len(scope):], ",", 2)[0], "/")
	if len(parts) != 4 || parts[1] != Region || parts[2] != svc.SigningName || parts[3] != "aws4_request" {
		return "Authorization credential scope " + strings.Join(parts, "/") + ", want <date>/" + Region + "/" + svc.SigningName + "/aws4_request"
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "X-Amz-Date: " + err.Error()
	}
	signedHeaders := auth[strings.Index(auth, "SignedHeaders=")+len("SignedHeaders="):]
	signedHeaders, _, _ = strings.Cut(signedHeaders, ",")
	for _, h := range []string{"content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"} {
		if !slices.Contains(strings.Split(signedHeaders, ";"), h) {
			return "SignedHeaders " + signedHeaders + " lack " + h
		}
	}
	// Re-sign the same request with the signed headers only, and compare.
	again, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		return err.Error()
	}
	for _, h := range strings.Split(signedHeaders, ";") {
		if h != "host" && h != "content-length" && h != "x-amz-date" && h != "x-amz-security-token" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretKey, SessionToken: SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), svc.SigningName, Region, when); err != nil {
		return "re-sign: " + err.Error()
	}
	if got, want := auth, again.Header.Get("Authorization"); got != want {
		return "Authorization " + got + ", want " + want
	}
	return ""
}
