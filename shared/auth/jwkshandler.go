package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// JWKSCacheControl is how long verifiers may cache the published keys. Rotation relies on it: a new key is
// published first and made active only after more than max-age plus stale-while-revalidate (6 minutes), so
// no verifier holding a cached copy meets a kid it has not seen. (A Verifier also refetches, at most every
// 30 s, when a token names an unknown kid.)
const JWKSCacheControl = "public, max-age=300, stale-while-revalidate=60"

// JWKSHandler serves ring's public keys as a JWKS document (application/json) with JWKSCacheControl and a
// strong ETag; a request whose If-None-Match names that ETag (or "*") gets 304 Not Modified without a body.
// The document is built once, here: the ring is immutable. It fails when ring is nil or cannot be encoded.
func JWKSHandler(ring *KeyRing) (http.Handler, error) {
	if ring == nil {
		return nil, errors.New("auth: JWKS handler needs a key ring")
	}
	body, err := ring.JWKS()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", JWKSCacheControl)
		h.Set("ETag", etag)
		if etagMatches(r.Header.Values("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	}), nil
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 section 13.1.2) to the header values.
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
