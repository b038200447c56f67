// Package opaque makes random tokens that mean nothing in themselves (refresh tokens, invite codes, login
// challenges, email verification links) and MFA recovery codes, and their SHA-256 digests, which are what
// the database stores. A fast hash is enough: the tokens carry 256 random bits, recovery codes 60, so the
// digests cannot be reversed by guessing.
package opaque

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

// TokenBytes is the randomness of a token: 256 bits.
const TokenBytes = 32

// New returns a token, prefix followed by 43 URL-safe characters (TokenBytes in unpadded base64url), and
// its digest Hash(token). The prefix (e.g. "rt_" for refresh tokens) only tells people and secret scanners
// what the token is; it is part of what is hashed.
func New(prefix string) (token string, hash []byte) {
	b := make([]byte, TokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash returns the SHA-256 digest (32 bytes) of token, exactly as given.
func Hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Recovery codes: RecoveryCodeCount codes of 12 base32 characters (60 bits), shown in lower case as
// "xxxx-xxxx-xxxx". Base32's alphabet has no 0, 1, 8 or 9, so none is mistaken for a letter.
const (
	RecoveryCodeCount = 10
	recoveryCodeChars = 12
	recoveryGroup     = 4
)

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// RecoveryCodes returns n new recovery codes and their digests (HashRecoveryCode of each, in order).
func RecoveryCodes(n int) (codes []string, hashes [][]byte) {
	codes, hashes = make([]string, n), make([][]byte, n)
	for i := range n {
		b := make([]byte, 8) // 64 bits, of which the 12 characters carry 60
		_, _ = rand.Read(b)
		s := strings.ToLower(recoveryEncoding.EncodeToString(b)[:recoveryCodeChars])
		codes[i] = s[:4] + "-" + s[4:8] + "-" + s[8:]
		hashes[i] = HashRecoveryCode(codes[i])
	}
	return codes, hashes
}

// HashRecoveryCode returns the digest of a recovery code as the user typed it: case, dashes and white
// space do not matter, so "ABCD EFGH-ijkl" and "abcd-efgh-ijkl" have one digest.
func HashRecoveryCode(code string) []byte {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case '-', ' ', '\t', '\n', '\r':
		default:
			b.WriteRune(r)
		}
	}
	return Hash(b.String())
}
