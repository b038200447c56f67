// Package totp implements time-based one-time passwords (RFC 6238) as authenticator apps use them:
// HMAC-SHA1, 6 digits, 30-second steps, secrets of 20 random bytes shown in unpadded base32.
//
// Secrets are raw bytes (encrypt them at rest with shared/seal); Encode gives the base32 text the user
// and the otpauth URI see, Decode reads it back. Validate accepts the code of the current step and of one
// step either side (clock drift), and only a step later than the last one accepted, so a code cannot be
// replayed: store the returned step (mfa_factors.last_used_step) when it accepts.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"
)

// The parameters every secret of this package uses (the authenticator apps' defaults).
const (
	Digits    = 6
	Period    = 30 * time.Second
	SecretLen = 20 // bytes: the HMAC-SHA1 output size, as RFC 4226 recommends
	// Skew is how many steps before and after the current one a code may belong to.
	Skew = 1
)

// MinSecretLen is the shortest secret Validate, Code and Decode accept: 128 bits, RFC 4226's minimum.
const MinSecretLen = 16

// ErrInvalidSecret: a secret text that is not base32, or a secret shorter than MinSecretLen.
var ErrInvalidSecret = errors.New("totp: invalid secret")

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a new random secret of SecretLen bytes.
func NewSecret() []byte {
	b := make([]byte, SecretLen)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// Encode returns secret in base32 without padding (32 characters for SecretLen bytes), as authenticator
// apps take it when typed in.
func Encode(secret []byte) string { return encoding.EncodeToString(secret) }

// Decode reads a secret's base32 text in either case, with or without padding and spaces. It returns
// ErrInvalidSecret for anything else, or for fewer than MinSecretLen bytes.
func Decode(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	key, err := encoding.DecodeString(s)
	if err != nil || len(key) < MinSecretLen {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// URI returns the otpauth:// URI an authenticator app reads from a QR code, e.g.
// otpauth://totp/Corral:ann@example.com?secret=...&issuer=Corral&algorithm=SHA1&digits=6&period=30.
// A ':' in issuer would end the label's issuer part early and is replaced by a space.
func URI(issuer, account string, secret []byte) string {
	issuer = strings.ReplaceAll(issuer, ":", " ")
	q := url.Values{}
	q.Set("secret", Encode(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

// Step returns the time step of t: whole periods since the Unix epoch.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code returns the code of secret at time t, for tests and tools (servers use Validate, which also
// refuses secrets shorter than MinSecretLen; Code computes the code of any secret).
func Code(secret []byte, t time.Time) string { return hotp(secret, Step(t)) }

// Validate reports whether code is secret's code for the step of now or one step either side, at a step
// later than lastStep (0 when none was accepted yet), and returns that step, to be stored as the new
// lastStep. A code that is malformed, wrong, or of a step already used is refused; so is any code when the
// secret is shorter than MinSecretLen. The comparison is constant-time.
func Validate(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if len(secret) < MinSecretLen || len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	current := Step(now)
	for s := current - Skew; s <= current+Skew; s++ {
		if s > lastStep && subtle.ConstantTimeCompare([]byte(hotp(secret, s)), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// hotp is HOTP (RFC 4226) of the step counter, with dynamic truncation to Digits digits.
func hotp(key []byte, counter int64) string {
	m := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	v %= 1_000_000
	out := []byte("000000")
	for i := Digits - 1; i >= 0; i-- {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	return string(out)
}
