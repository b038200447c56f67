package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/webhook"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1", false}, {"127.255.0.9", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"172.31.255.255", false},
		{"192.168.1.1", false}, {"169.254.169.254", false}, {"100.64.0.1", false}, {"100.127.255.254", false},
		{"224.0.0.1", false}, {"239.255.255.250", false}, {"0.0.0.0", false}, {"255.255.255.255", false},
		{"::", false}, {"::1", false}, {"fc00::1", false}, {"fd12:3456::1", false}, {"fe80::1", false},
		{"ff02::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false}, {"64:ff9b::a00:1", false},
		{"2002:a00:1::", false},
		{"8.8.8.8", true}, {"1.1.1.1", true}, {"172.32.0.1", true}, {"100.128.0.1", true}, {"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := webhook.PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.public {
				t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := webhook.NewGuard(nil)
	dev := webhook.NewGuard(webhook.ParseAllowedHosts(" 127.0.0.1, localhost ,"))
	tests := []struct {
		name  string
		guard *webhook.Guard
		url   string
		ok    bool
	}{
		{"public https IP", strict, "https://8.8.8.8/hooks", true},
		{"public https IPv6", strict, "https://[2606:4700:4700::1111]:8443/hooks", true},
		{"http to a public host", strict, "http://8.8.8.8/hooks", false},
		{"user info", strict, "https://user:pass@8.8.8.8/hooks", false},
		{"fragment", strict, "https://8.8.8.8/hooks#x", false},
		{"relative", strict, "/hooks", false},
		{"other scheme", strict, "ftp://8.8.8.8/x", false},
		{"no host", strict, "https:///x", false},
		{"loopback without allow-list", strict, "https://127.0.0.1/hooks", false},
		{"private 10/8", strict, "https://10.0.0.7/hooks", false},
		{"cloud metadata", strict, "http://169.254.169.254/latest/meta-data/", false},
		{"cloud metadata over https", strict, "https://169.254.169.254/latest/meta-data/", false},
		{"CGNAT", strict, "https://100.64.1.1/", false},
		{"IPv6 loopback", strict, "https://[::1]/hooks", false},
		{"IPv6 unique local", strict, "https://[fc00::1]/hooks", false},
		{"IPv6 unique local fd", strict, "https://[fd00:ec2::254]/", false},
		{"IPv6 link-local", strict, "https://[fe80::1]/", false},
		{"IPv4-mapped loopback", strict, "https://[::ffff:127.0.0.1]/", false},
		{"unspecified", strict, "https://0.0.0.0/", false},
		{"name resolving to loopback", strict, "https://localhost/hooks", false},
		{"name that does not resolve", strict, "https://does-not-exist.invalid/hooks", false},
		{"allow-listed IP over http", dev, "http://127.0.0.1:8080/hooks", true},
		{"allow-listed name over http", dev, "http://localhost:8080/hooks", true},
		{"allow-listed name is case-insensitive", dev, "https://LOCALHOST/hooks", true},
		{"allow-list does not open private ranges", dev, "https://10.0.0.7/hooks", false},
		{"allow-list does not open user info", dev, "http://u@127.0.0.1/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.guard.CheckURL(context.Background(), tt.url)
			if tt.ok && err != nil {
				t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
			if !tt.ok && !errors.Is(err, webhook.ErrRefused) {
				t.Errorf("CheckURL(%q) = %v, want ErrRefused", tt.url, err)
			}
		})
	}
}

// counter is a TCP listener on 127.0.0.1 that counts the connections it accepts.
func counter(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

// The dial-time check holds even when the URL check was passed or skipped: a name that resolves to
// loopback when dialled (DNS rebinding) never connects. Only loopback addresses are dialled here.
func TestDialRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	addr, accepted := counter(t)
	_, port, _ := net.SplitHostPort(addr)
	strict := webhook.NewGuard(nil)
	for _, target := range []string{addr, "localhost:" + port, "[::1]:" + port} {
		conn, err := strict.DialContext(context.Background(), "tcp", target)
		if err == nil {
			_ = conn.Close()
			t.Errorf("dial %s: connected, want refused", target)
			continue
		}
		var re *webhook.RefusedError
		if !errors.As(err, &re) {
			t.Errorf("dial %s: err = %v, want a *RefusedError", target, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the listener accepted %d connections, want 0", n)
	}

	conn, err := webhook.NewGuard([]string{"127.0.0.1"}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial an allow-listed address: %v", err)
	}
	_ = conn.Close()
}

func TestClientRefusesLoopbackAndRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	t.Cleanup(srv.Close)

	_, err := webhook.NewGuard(nil).Client(5*time.Second).Post(srv.URL, "application/json", nil)
	if !errors.Is(err, webhook.ErrRefused) {
		t.Errorf("POST to a loopback server without allow-list: err = %v, want ErrRefused", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests, want 0", n)
	}

	resp, err := webhook.NewGuard([]string{"127.0.0.1"}).Client(5*time.Second).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatalf("POST to an allow-listed server: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Errorf("status %d after %d requests: want the 302 itself, not followed", resp.StatusCode, hits.Load())
	}
}
