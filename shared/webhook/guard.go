package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrRefused matches (errors.Is) every *RefusedError.
var ErrRefused = errors.New("webhook: address refused")

// RefusedError is a URL or address a delivery may not go to, with the reason, worded for the client.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "webhook: address refused: " + e.Reason }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refusedf(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Guard keeps deliveries to public addresses (a server-side request forgery guard). It refuses loopback,
// private (RFC 1918), link-local, carrier-grade NAT (100.64/10), multicast, unspecified, reserved and
// IPv6 unique-local addresses, including IPv4 addresses written as IPv4-mapped IPv6. It checks when an
// endpoint is registered (CheckURL, which resolves the host) and again on every connection (DialContext,
// whose check runs after resolution and before connecting), so a name that later resolves elsewhere (DNS
// rebinding) cannot reach a refused address.
//
// The allow-list, for local development and tests only (WEBHOOK_ALLOWED_HOSTS, e.g. 127.0.0.1,localhost),
// names hosts exempt from the checks, and the only hosts that may use plain http. An IP entry also admits
// that address whatever name resolved to it. A Guard is safe for concurrent use.
type Guard struct {
	hosts    map[string]bool
	ips      map[netip.Addr]bool
	resolver *net.Resolver
}

// NewGuard returns a guard exempting the given hosts (names or IP literals; IPv6 with or without brackets).
func NewGuard(allowedHosts []string) *Guard {
	g := &Guard{hosts: map[string]bool{}, ips: map[netip.Addr]bool{}, resolver: net.DefaultResolver}
	for _, h := range allowedHosts {
		h = strings.ToLower(strings.Trim(strings.TrimSpace(h), "[]"))
		if h == "" {
			continue
		}
		g.hosts[h] = true
		if ip, err := netip.ParseAddr(h); err == nil {
			g.ips[ip.Unmap()] = true
		}
	}
	return g
}

// ParseAllowedHosts splits a comma-separated list such as WEBHOOK_ALLOWED_HOSTS, dropping blanks.
func ParseAllowedHosts(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// refused lists the address ranges no delivery may reach; built on first use, not in the package
// initialisation every function runs at its cold start.
var refused = sync.OnceValue(func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b::/96",    // NAT64: would reach IPv4 through a translator
		"64:ff9b:1::/48",  // local NAT64
		"100::/64",        // discard
		"2001::/32",       // Teredo
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4: would reach IPv4 through a relay
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
})

// PublicAddr reports whether ip is an address a delivery may reach without an allow-list entry.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	for _, p := range refused() {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func (g *Guard) allowedHost(host string) bool {
	return g.hosts[strings.ToLower(strings.Trim(host, "[]"))]
}

func (g *Guard) allowedAddr(ip netip.Addr) bool {
	return PublicAddr(ip) || g.ips[ip.Unmap()]
}

// CheckURL validates an endpoint URL: absolute, https (http only for an allow-listed host), no user
// information, no fragment, and a host every address of which is allowed. It resolves the host with ctx.
// A URL that breaks a rule is a *RefusedError with a reason a person can read; a host that does
// not resolve is one too.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return refusedf("must be an absolute URL")
	}
	host := u.Hostname()
	switch {
	case u.User != nil:
		return refusedf("must not contain a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return refusedf("must not contain a fragment")
	case host == "":
		return refusedf("must name a host")
	case u.Scheme == "https":
	case u.Scheme == "http" && g.allowedHost(host):
	default:
		return refusedf("must use https")
	}
	if g.allowedHost(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !g.allowedAddr(ip) {
			return refusedf("%s is not a public address", ip)
		}
		return nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return refusedf("host %s does not resolve", host)
	}
	for _, ip := range addrs {
		if !g.allowedAddr(ip) {
			return refusedf("host %s resolves to %s, which is not a public address", host, ip.Unmap())
		}
	}
	return nil
}

// control is the net.Dialer hook: it runs for each resolved address after the socket is made and before
// it connects, so a refused address never sees a packet.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refusedf("cannot read dialled address %q", address)
	}
	if !g.allowedAddr(ap.Addr()) {
		return refusedf("%s is not a public address", ap.Addr().Unmap())
	}
	return nil
}

// DialContext dials addr ("host:port") like net.Dialer, refusing, before connecting, every address the
// guard does not allow; an allow-listed host is dialled unchecked. A refusal is a *RefusedError.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !g.allowedHost(host) {
		d.Control = g.control
	}
	return d.DialContext(ctx, network, addr)
}

// Client returns an HTTP client whose every connection goes through DialContext: no proxy (a proxy would
// dial on our behalf, unchecked), no redirects (a 3xx is the answer, not a hop to an unchecked URL), and
// timeout as the limit of a whole request, response body included.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       60 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
