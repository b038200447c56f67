package runtimeapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/syncbuf"
)

func serve(t testing.TB, o Options) (*Server, string) {
	t.Helper()
	s := New(o)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, hs.URL
}

func do(t testing.TB, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProtocol plays the function's side of the protocol by hand.
func TestProtocol(t *testing.T) {
	t.Parallel()
	s, base := serve(t, Options{FunctionARN: "arn:test", Timeout: time.Minute})
	rt := base + "/2018-06-01/runtime/"
	ctx := context.Background()

	type outcome struct {
		res Result
		err error
	}
	invoke := func(payload string) chan outcome {
		c := make(chan outcome, 1)
		go func() {
			res, err := s.Invoke(ctx, []byte(payload))
			c <- outcome{res, err}
		}()
		return c
	}

	// A response.
	done := invoke(`{"n":1}`)
	resp := do(t, http.MethodGet, rt+"invocation/next", "")
	select {
	case <-s.Ready():
	default:
		t.Error("Ready not closed after the first next")
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if got := readAll(t, resp.Body); got != `{"n":1}` || id == "" {
		t.Fatalf("next: id %q, body %q", id, got)
	}
	if arn := resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"); arn != "arn:test" {
		t.Errorf("ARN header %q", arn)
	}
	ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil || time.UnixMilli(ms).Before(time.Now().Add(50*time.Second)) {
		t.Errorf("deadline header %q: want about a minute ahead", resp.Header.Get("Lambda-Runtime-Deadline-Ms"))
	}
	if r := do(t, http.MethodPost, rt+"invocation/not-this-one/response", `{}`); r.StatusCode != http.StatusBadRequest {
		t.Errorf("response for an unknown id: status %d, want 400", r.StatusCode)
	}
	if r := do(t, http.MethodPost, rt+"invocation/"+id+"/response", `{"ok":true}`); r.StatusCode != http.StatusAccepted {
		t.Errorf("response: status %d, want 202", r.StatusCode)
	}
	got := <-done
	if got.err != nil || string(got.res.Payload) != `{"ok":true}` || got.res.Err != nil {
		t.Fatalf("Invoke = %+v, %v", got.res, got.err)
	}
	if got.res.Fetched.IsZero() || got.res.Received.Before(got.res.Fetched) {
		t.Errorf("Fetched %v, Received %v", got.res.Fetched, got.res.Received)
	}
	if r := do(t, http.MethodPost, rt+"invocation/"+id+"/response", `{}`); r.StatusCode != http.StatusBadRequest {
		t.Errorf("second response for the same id: status %d, want 400", r.StatusCode)
	}

	// An invocation error.
	done = invoke(`{"n":2}`)
	resp = do(t, http.MethodGet, rt+"invocation/next", "")
	id = resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	do(t, http.MethodPost, rt+"invocation/"+id+"/error", `{"errorType":"Boom","errorMessage":"it broke"}`)
	got = <-done
	if diff := cmp.Diff(&FunctionError{Type: "Boom", Message: "it broke"}, got.res.Err); got.err != nil || diff != "" {
		t.Errorf("Invoke error (-want +got):\n%s (err %v)", diff, got.err)
	}

	// An initialisation error fails the invocation in flight and every later one.
	done = invoke(`{"n":3}`)
	do(t, http.MethodPost, rt+"init/error", `{"errorType":"Runtime.ExitError","errorMessage":"bad config"}`)
	if got := <-done; !errors.Is(got.err, ErrInitFailed) || !strings.Contains(got.err.Error(), "bad config") {
		t.Errorf("Invoke after init/error: %v, want ErrInitFailed with the message", got.err)
	}
	if _, err := s.Invoke(ctx, nil); !errors.Is(err, ErrInitFailed) {
		t.Errorf("next Invoke: %v, want ErrInitFailed", err)
	}
}

func TestInvokeEndsWithContext(t *testing.T) {
	t.Parallel()
	s, _ := serve(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invoke with nobody fetching: %v, want DeadlineExceeded", err)
	}
}

func TestCloseReleasesNext(t *testing.T) {
	t.Parallel()
	s, base := serve(t, Options{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Close()
	}()
	if r := do(t, http.MethodGet, base+"/2018-06-01/runtime/invocation/next", ""); r.StatusCode != http.StatusInternalServerError {
		t.Errorf("next after Close: status %d, want 500", r.StatusCode)
	}
}

// TestRealFunction runs a function built with aws-lambda-go, as the Makefile builds the real ones,
// against the runtime API: responses, a reported error, and SIGTERM (its extension registered during
// initialisation, its handler run on the signal).
func TestRealFunction(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", bin, "./testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := New(Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		_ = hs.Close()
	})
	cmd := exec.Command(bin)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + l.Addr().String(), "_HANDLER=bootstrap", "AWS_LAMBDA_FUNCTION_NAME=echo"}
	var stdout syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	for i := range 3 {
		res, err := s.Invoke(ctx, []byte(strconv.Itoa(i)))
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		if want := `{"echo":` + strconv.Itoa(i) + `}`; string(res.Payload) != want {
			t.Errorf("invocation %d: %s, want %s", i, res.Payload, want)
		}
	}
	res, err := s.Invoke(ctx, []byte(`"fail"`))
	if err != nil || res.Err == nil || res.Err.Message != "asked to fail" {
		t.Errorf("failing invocation: %+v, %v; want the function's error", res, err)
	}
	if s.ReadyAt().IsZero() {
		t.Error("ReadyAt is zero after invocations")
	}
	if diff := cmp.Diff([]string{"GoLangEnableSIGTERM"}, s.Extensions()); diff != "" {
		t.Errorf("extensions registered during initialisation (-want +got):\n%s", diff)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "sigterm") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "sigterm") {
		t.Errorf("the SIGTERM handler did not run; stdout %q", stdout.String())
	}
}

// An extension registers during initialisation only, as in Lambda.
func TestRegistrationClosesAtFirstNext(t *testing.T) {
	t.Parallel()
	s, base := serve(t, Options{})
	reg := func() *http.Response {
		req, err := http.NewRequest(http.MethodPost, base+"/2020-01-01/extension/register", strings.NewReader(`{"events":null}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Lambda-Extension-Name", "early")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := reg(); r.StatusCode != http.StatusOK || r.Header.Get("Lambda-Extension-Identifier") == "" {
		t.Fatalf("registration during init: status %d, id %q", r.StatusCode, r.Header.Get("Lambda-Extension-Identifier"))
	}
	// The runtime's first next ends initialisation (it waits for an event; Close releases it).
	next := make(chan struct{})
	go func() {
		defer close(next)
		if resp, err := http.Get(base + "/2018-06-01/runtime/invocation/next"); err == nil {
			resp.Body.Close()
		}
	}()
	<-s.Ready()
	if r := reg(); r.StatusCode != http.StatusForbidden {
		t.Errorf("registration after the first next: status %d, want 403", r.StatusCode)
	}
	if diff := cmp.Diff([]string{"early"}, s.Extensions()); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
	s.Close()
	<-next
}
