package opaque_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/opaque"
)

func TestNew(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, hash := opaque.New("rt_")
		if !regexp.MustCompile(`^rt_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
			t.Fatalf("token %q: want rt_ and 43 URL-safe characters", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "rt_"))
		if err != nil || len(raw) != opaque.TokenBytes {
			t.Fatalf("token %q carries %d bytes (%v), want %d", tok, len(raw), err, opaque.TokenBytes)
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
		sum := sha256.Sum256([]byte(tok))
		if !bytes.Equal(hash, sum[:]) || !bytes.Equal(opaque.Hash(tok), hash) {
			t.Fatalf("hash of %q is not its SHA-256", tok)
		}
	}
	if tok, _ := opaque.New(""); len(tok) != 43 {
		t.Errorf("token without a prefix: %q", tok)
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	codes, hashes := opaque.RecoveryCodes(opaque.RecoveryCodeCount)
	if len(codes) != 10 || len(hashes) != 10 {
		t.Fatalf("%d codes, %d hashes; want 10 each", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if !regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`).MatchString(c) {
			t.Errorf("code %q: want xxxx-xxxx-xxxx of lower-case base32", c)
		}
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		if len(hashes[i]) != 32 || !bytes.Equal(hashes[i], opaque.HashRecoveryCode(c)) {
			t.Errorf("hash %d is not HashRecoveryCode of its code", i)
		}
	}
	want := opaque.HashRecoveryCode("abcd-efgh-ijkl")
	for _, typed := range []string{"abcdefghijkl", "ABCD-EFGH-IJKL", " abcd efgh ijkl\n", "ab-cd-ef-gh-ij-kl"} {
		if !bytes.Equal(opaque.HashRecoveryCode(typed), want) {
			t.Errorf("HashRecoveryCode(%q) differs from the code's", typed)
		}
	}
	if bytes.Equal(opaque.HashRecoveryCode("abcd-efgh-ijkm"), want) {
		t.Error("two codes have one digest")
	}
}
