package ratelimit

import "net/netip"

// IPv6ClientPrefix is how many leading bits of an IPv6 address name one client under ScopeIP: a /64 is
// the smallest network a host is given (SLAAC, privacy addresses), and a client can take any address in
// it, so counting single IPv6 addresses would give one client 2^64 budgets.
const IPv6ClientPrefix = 64

// ClientNetwork is the client an address counts as: an IPv4 address itself (an IPv4-mapped IPv6 address
// counts as its IPv4 address), an IPv6 address as its network of v6Prefix bits ("2001:db8:1:2::/64"),
// without a zone. Anything unparsable comes back as it is.
func ClientNetwork(ip string, v6Prefix int) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(v6Prefix)
	if err != nil {
		return addr.String()
	}
	return p.String()
}
