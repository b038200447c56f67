package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/sqsx"
)

// sqsEndpoint is the test SQS server (make test starts fauxqs and exports SQS_ENDPOINT).
func sqsEndpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv("SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("SQS_ENDPOINT is not set: run `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"` first")
	}
	return endpoint
}

// newClient returns an SQS client for endpoint. It tries a call the client's default number of times
// (sqsx.Client has no retry setting), within short backoffs: a test of an unreachable server still fails
// fast, as a refused connection fails at once.
func newClient(endpoint string) *sqsx.Client {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return sqsx.NewClient(aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, endpoint)
}

// newQueue creates a uniquely named queue on c, deleted in t.Cleanup, and returns its URL.
func newQueue(t testing.TB, c *sqsx.Client) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "outbox-" + hex.EncodeToString(b)
	// A short visibility timeout: a message whose receive answer was lost comes back soon (see drain).
	url, err := c.CreateQueue(context.Background(), name, map[string]string{"VisibilityTimeout": "2"})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = c.DeleteQueue(context.Background(), url)
	})
	return url
}

// received is a message read back from a queue.
type received struct {
	CorralID string
	Kind     string
	Env      outbox.Envelope
}

// drain receives and deletes messages from url until want have arrived (want > 0) or nothing more comes
// for three seconds, and returns them in the order received. A receive that fails in transport is tried
// again: the local SQS server now and then closes a keep-alive connection as the client reuses it (seen
// in make test, also with the code of earlier sessions); messages whose answer was lost come back after
// the queue's short visibility timeout.
func drain(t testing.TB, c *sqsx.Client, url string, want int) []received {
	t.Helper()
	ctx := context.Background()
	var got []received
	idle, failed := 0, 0
	for (want == 0 || len(got) < want) && idle < 3 {
		msgs, err := c.ReceiveMessage(ctx, sqsx.ReceiveInput{
			QueueURL: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			if failed++; failed <= 3 {
				t.Logf("receive (trying again): %v", err)
				continue
			}
			t.Fatalf("receive: %v", err)
		}
		if len(msgs) == 0 {
			idle++
			continue
		}
		idle = 0
		var dels []sqsx.DeleteEntry
		for i, m := range msgs {
			var r received
			if err := json.Unmarshal([]byte(m.Body), &r.Env); err != nil {
				t.Fatalf("body is not an envelope: %v: %s", err, m.Body)
			}
			r.CorralID = aws.ToString(m.MessageAttributes[sqsx.IDAttribute].StringValue)
			r.Kind = aws.ToString(m.MessageAttributes["corral-kind"].StringValue)
			got = append(got, r)
			dels = append(dels, sqsx.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := c.DeleteMessageBatch(ctx, url, dels); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	return got
}

// recorder forwards to a real publisher and records, in order, the ids it was asked to send and whether
// the send succeeded. It is not a fake queue: every message goes to the SQS server.
type recorder struct {
	next outbox.Publisher
	mu   sync.Mutex
	sent []string
}

func (r *recorder) Send(ctx context.Context, queue string, msgs ...sqsx.Message) error {
	err := r.next.Send(ctx, queue, msgs...)
	var se *sqsx.SendError
	failed := map[string]bool{}
	if errors.As(err, &se) {
		for _, id := range se.FailedIDs() {
			failed[id] = true
		}
	} else if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if !failed[m.ID] {
			r.sent = append(r.sent, m.ID)
		}
	}
	return err
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// proxy is a TCP forwarder in front of the SQS server that can be stopped and restarted on the same
// port: while it is stopped the server is unreachable through it, exactly as if it were down.
type proxy struct {
	t      testing.TB
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

// proxiedPublisher returns a publisher to the local SQS server through a proxy the test can stop.
func proxiedPublisher(t testing.TB, queues map[string]string) (*proxy, *sqsx.Publisher) {
	t.Helper()
	u, err := url.Parse(sqsEndpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	return px, sqsx.NewPublisher(newClient(px.endpoint()), queues)
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.start("127.0.0.1:0")
	t.Cleanup(p.stop)
	return p
}

// endpoint is the URL clients use to reach the server through the proxy.
func (p *proxy) endpoint() string { return "http://" + p.addr }

func (p *proxy) start(addr string) {
	p.t.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; give the kernel a little time should it still hold it.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *proxy) serve(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// stop closes the listener and every open connection: the server is unreachable until restart.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// restart listens again on the same address.
func (p *proxy) restart() { p.start(p.addr) }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
