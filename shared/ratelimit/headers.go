package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
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
// SetHeaders replaces earlier values of these fields and cannot fail. For an ErrUnavailable decision it
// reports a quota of zero remaining and the Retry-After to send with the 503.
func SetHeaders(h http.Header, d Decision) {
	p := d.Policy.effective()
	name := sfString(p.Name)
	var window time.Duration
	if p.Rate > 0 {
		window = p.emission() * time.Duration(p.Burst)
	}
	h.Set(HeaderPolicy, name+";q="+strconv.Itoa(p.Burst)+";w="+strconv.FormatInt(max(ceilSeconds(window), 1), 10))
	h.Set(HeaderRateLimit, name+";r="+strconv.Itoa(max(d.Remaining, 0))+";t="+strconv.FormatInt(ceilSeconds(d.ResetAfter), 10))
	if d.Allowed {
		h.Del(HeaderRetryAfter)
		return
	}
	h.Set(HeaderRetryAfter, strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
}

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

// sfString encodes s as a structured-field String (RFC 9651 section 3.3.3): quoted, with backslash and
// double quote escaped. Policy names are validated to need no escaping; this keeps the output well formed
// regardless.
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?') // not representable in an sf-string
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
