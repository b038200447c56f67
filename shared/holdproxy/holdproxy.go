// Package holdproxy is a TCP proxy for tests of connection handling: it accepts connections at once but
// forwards them to their target only once released, like a server slow to answer, and counts them. The
// cold-start tests use it to see how many connections a warm-up and the first requests dial.
package holdproxy

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections to its target once Release is called; until then they are accepted,
// counted and left waiting. It stops in t.Cleanup.
type Proxy struct {
	// Addr is the proxy's loopback host:port.
	Addr string

	accepted atomic.Int32
	hold     chan struct{}
	release  sync.Once

	mu    sync.Mutex
	first bytes.Buffer // what the first connection's client sent
}

// New starts a proxy to target (host:port).
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), hold: make(chan struct{})}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := p.accepted.Add(1)
			go p.forward(c, target, n == 1)
		}
	}()
	return p
}

func (p *Proxy) forward(c net.Conn, target string, first bool) {
	defer c.Close()
	<-p.hold
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	var from io.Reader = c
	if first {
		from = io.TeeReader(c, lockedWriter{&p.mu, &p.first})
	}
	go func() { _, _ = io.Copy(s, from) }()
	_, _ = io.Copy(c, s)
}

// Via starts a proxy to rawURL's host and returns rawURL with its host replaced by the proxy's.
func Via(t testing.TB, rawURL string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := New(t, u.Host)
	u.Host = p.Addr
	return u.String(), p
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Release lets the waiting and the later connections through. It may be called more than once.
func (p *Proxy) Release() { p.release.Do(func() { close(p.hold) }) }

// FirstSent returns what the first connection's client has sent so far.
func (p *Proxy) FirstSent() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
