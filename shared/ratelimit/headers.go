package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Header names of draft-ietf-httpapi-ratelimit-headers (draft 07 and later) and RFC 9110.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderRetryAfter = "Retry-After"
)

// SetHeaders writes d into h as structured fields:
//
//	RateLimit-Policy: "<name>";q=<burst>;w=<window>
//	RateLimit: "<name>";r=<remaining>;t=<seconds until the key is back to its full burst>
//	Retry-After: <seconds, rounded up, at least 1>    (only when !d.Allowed)
//
// The quota q is the effective burst and the window w the seconds the limiter takes to refill it
// (Burst × Period / Rate, rounded up), so q/w is the policy's sustained rate; when Burst equals Rate, w is
// the Period. Seconds are whole and rounded up, so a client that waits t or Retry-After is never early.
// For a decision spent from a lease, r and t are as Redis reported them at the grant, less the leased
// tokens since spent: exact while this instance is the key's only client, otherwise high by what other
// instances spent since. SetHeaders replaces earlier values of these fields and cannot fail. For an ErrUnavailable decision it
// reports a quota of zero remaining and the Retry-After to send with the 503.
func SetHeaders(h http.Header, d Decision) {
	p := d.Policy.effective()
	var window time.Duration
	if p.Rate > 0 {
		window = p.emission() * time.Duration(p.Burst)
	}
	// Both values in one buffer and one string, both slices in one allocation.
	var arr [160]byte
	b := appendSFString(arr[:0], p.Name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(p.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(ceilSeconds(window), 1), 10)
	split := len(b)
	b = appendSFString(b, p.Name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.ResetAfter), 10)
	both := string(b)
	vals := make([]string, 2)
	vals[0], vals[1] = both[:split], both[split:]
	h[canonicalPolicy] = vals[0:1:1]
	h[canonicalRateLimit] = vals[1:2:2]
	if d.Allowed {
		delete(h, canonicalRetryAfter)
		return
	}
	h[canonicalRetryAfter] = []string{strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10)}
}

// The header names as http.Header keys them, so that SetHeaders need not canonicalise on every call.
var (
	canonicalPolicy     = http.CanonicalHeaderKey(HeaderPolicy)
	canonicalRateLimit  = http.CanonicalHeaderKey(HeaderRateLimit)
	canonicalRetryAfter = http.CanonicalHeaderKey(HeaderRetryAfter)
)

// ceilSeconds rounds d up to whole seconds; negative durations count as zero.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// appendSFString appends s as a structured-field String (RFC 9651 section 3.3.3): quoted, with backslash
// and double quote escaped. Policy names are validated to need no escaping; this keeps the output well
// formed regardless.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?') // not representable in an sf-string
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
