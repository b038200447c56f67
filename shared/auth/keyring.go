package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// kidHeader is the PEM header that names a key's kid in JWT_SIGNING_KEYS, e.g.
//
//	-----BEGIN PRIVATE KEY-----
//	Kid: 2031-03
//
//	MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg...
//	-----END PRIVATE KEY-----
//
// The header name is matched without regard to case.
const kidHeader = "Kid"

// VerifyingKey is the public half of a P-256 key with the kid it is published under: a retired signing key
// kept so that the tokens it signed still verify until they expire.
type VerifyingKey struct {
	KID string
	Key *ecdsa.PublicKey
}

// KeyRing holds the ES256 (P-256) private keys access tokens are signed with, by kid: one of them is active
// and signs; all of them, and any retired public-only keys, are published in the JWKS and trusted by a
// Verifier built WithKeyRing. Rotation without logging anyone out:
//
//  1. add the new private key to JWT_SIGNING_KEYS, keeping JWT_SIGNING_KID on the old one, and deploy: the
//     JWKS now publishes both, and verifiers that cache the JWKS pick the new kid up;
//  2. after more than the JWKS max-age (auth-keys serves max-age=300 plus stale-while-revalidate=60; a
//     Verifier also refetches on an unknown kid), set JWT_SIGNING_KID to the new kid: new tokens use it;
//  3. after the longest access-token TTL, replace the old private key by its PUBLIC KEY block (or drop it):
//     once dropped, tokens it signed stop verifying.
//
// A KeyRing is immutable and safe for concurrent use.
type KeyRing struct {
	active  SigningKey
	signing []SigningKey   // every private key, in the order given
	retired []VerifyingKey // public-only keys
}

// NewKeyRing returns a ring of keys (at least one) and retired public keys; activeKID names the key that
// signs, "" meaning the first. It fails when keys is empty, a kid is empty or used twice (across keys and
// retired), a key is nil or not on P-256, or activeKID names no private key.
func NewKeyRing(activeKID string, keys []SigningKey, retired []VerifyingKey) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: key ring needs at least one private key")
	}
	seen := make(map[string]bool, len(keys)+len(retired))
	check := func(kid string, pub *ecdsa.PublicKey) error {
		switch {
		case kid == "":
			return errors.New("auth: a signing key has no kid")
		case seen[kid]:
			return fmt.Errorf("auth: kid %q is used twice", kid)
		case pub == nil || pub.Curve != elliptic.P256():
			return fmt.Errorf("auth: key %q is not a P-256 key", kid)
		}
		seen[kid] = true
		return nil
	}
	r := &KeyRing{}
	for _, k := range keys {
		var pub *ecdsa.PublicKey
		if k.Key != nil {
			pub = &k.Key.PublicKey
		}
		if err := check(k.KID, pub); err != nil {
			return nil, err
		}
		r.signing = append(r.signing, k)
	}
	for _, k := range retired {
		if err := check(k.KID, k.Key); err != nil {
			return nil, err
		}
		r.retired = append(r.retired, k)
	}
	r.active = r.signing[0]
	if activeKID != "" {
		found := false
		for _, k := range r.signing {
			if k.KID == activeKID {
				r.active, found = k, true
			}
		}
		if !found {
			return nil, fmt.Errorf("auth: active kid %q is not among the private keys (%s)", activeKID, strings.Join(kidsOf(r.signing), ", "))
		}
	}
	return r, nil
}

// ParseKeyRing reads the PEM text of JWT_SIGNING_KEYS: one or more private keys (PKCS #8 "PRIVATE KEY" or
// SEC 1 "EC PRIVATE KEY" blocks, P-256 only) and optionally retired "PUBLIC KEY" blocks, which are published
// and trusted but never sign. A block's kid is its "Kid:" PEM header when present, else its RFC 7638 JWK
// thumbprint (base64url SHA-256), which is stable for a key wherever it is loaded. "EC PARAMETERS" blocks are
// skipped. activeKID names the signing key, "" meaning the first private key. Errors name the offending
// block; NewKeyRing's checks apply too. The error never contains key material.
func ParseKeyRing(text, activeKID string) (*KeyRing, error) {
	data := []byte(strings.TrimSpace(text))
	var keys []SigningKey
	var retired []VerifyingKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		kid := ""
		for name, v := range block.Headers {
			if strings.EqualFold(name, kidHeader) {
				kid = strings.TrimSpace(v)
			}
		}
		switch block.Type {
		case "PRIVATE KEY", "EC PRIVATE KEY":
			key, err := parsePrivateBlock(block)
			if err != nil {
				return nil, fmt.Errorf("auth: JWT signing keys, PEM block %d: %w", n, err)
			}
			if kid == "" {
				kid = Thumbprint(&key.PublicKey)
			}
			keys = append(keys, SigningKey{KID: kid, Key: key})
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("auth: JWT signing keys, PEM block %d: %w", n, err)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok || ec.Curve != elliptic.P256() {
				return nil, fmt.Errorf("auth: JWT signing keys, PEM block %d: public key is a %T, want ECDSA P-256", n, pub)
			}
			if kid == "" {
				kid = Thumbprint(ec)
			}
			retired = append(retired, VerifyingKey{KID: kid, Key: ec})
		case "EC PARAMETERS":
		default:
			return nil, fmt.Errorf("auth: JWT signing keys, PEM block %d: unsupported type %q", n, block.Type)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: JWT signing keys hold no PRIVATE KEY or EC PRIVATE KEY PEM block")
	}
	return NewKeyRing(activeKID, keys, retired)
}

// MarshalKeyRingPEM encodes keys as JWT_SIGNING_KEYS text that ParseKeyRing reads back with the same kids:
// PKCS #8 "PRIVATE KEY" blocks, each with a "Kid:" header. It fails when a key is nil or cannot be encoded.
func MarshalKeyRingPEM(keys ...SigningKey) ([]byte, error) {
	var out []byte
	for _, k := range keys {
		if k.Key == nil {
			return nil, fmt.Errorf("auth: signing key %q is nil", k.KID)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.Key)
		if err != nil {
			return nil, fmt.Errorf("auth: marshal signing key %q: %w", k.KID, err)
		}
		b := &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		if k.KID != "" {
			b.Headers = map[string]string{kidHeader: k.KID}
		}
		out = append(out, pem.EncodeToMemory(b)...)
	}
	return out, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of a P-256 public key: base64url(SHA-256 of
// {"crv":"P-256","kty":"EC","x":...,"y":...}). It is the default kid of a key without a Kid header.
func Thumbprint(pub *ecdsa.PublicKey) string {
	x, y := ecPoint(pub)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ecPoint returns the base64url x and y coordinates of a P-256 key ("", "" for anything else).
func ecPoint(pub *ecdsa.PublicKey) (x, y string) {
	point, err := pub.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
	if err != nil || len(point) != 65 {
		return "", ""
	}
	return base64.RawURLEncoding.EncodeToString(point[1:33]), base64.RawURLEncoding.EncodeToString(point[33:])
}

// ActiveKID is the kid of the key that signs.
func (r *KeyRing) ActiveKID() string { return r.active.KID }

// KIDs lists every published kid: the active key first, then the other private keys, then the retired ones.
func (r *KeyRing) KIDs() []string {
	out := []string{r.active.KID}
	for _, k := range r.published()[1:] {
		out = append(out, k.KID)
	}
	return out
}

// published is every public key in JWKS order: active first, other private keys, retired keys.
func (r *KeyRing) published() []VerifyingKey {
	out := []VerifyingKey{{KID: r.active.KID, Key: &r.active.Key.PublicKey}}
	for _, k := range r.signing {
		if k.KID != r.active.KID {
			out = append(out, VerifyingKey{KID: k.KID, Key: &k.Key.PublicKey})
		}
	}
	return append(out, r.retired...)
}

// verifyKeys are the ring's public keys as a Verifier trusts them: each pinned to ES256 under its kid.
func (r *KeyRing) verifyKeys() []verifyKey {
	pub := r.published()
	out := make([]verifyKey, 0, len(pub))
	for _, k := range pub {
		out = append(out, verifyKey{kid: k.KID, alg: "ES256", key: k.Key})
	}
	return out
}

// JWKS returns the ring's public keys as a JWKS document (kty EC, crv P-256, x, y, kid, alg ES256, use sig),
// in KIDs order. It fails only if a key cannot be encoded.
func (r *KeyRing) JWKS() ([]byte, error) {
	return encodeJWKS(r.published())
}

// jwkOut is a published P-256 public key.
type jwkOut struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func encodeJWKS(keys []VerifyingKey) ([]byte, error) {
	doc := struct {
		Keys []jwkOut `json:"keys"`
	}{Keys: make([]jwkOut, 0, len(keys))}
	for _, k := range keys {
		x, y := ecPoint(k.Key)
		if x == "" {
			return nil, fmt.Errorf("auth: encode key %q: not a P-256 public key", k.KID)
		}
		doc.Keys = append(doc.Keys, jwkOut{Kty: "EC", Crv: "P-256", X: x, Y: y, KID: k.KID, Alg: "ES256", Use: "sig"})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("auth: encode JWKS: %w", err)
	}
	return out, nil
}

// sign returns claims as a compact ES256 JWS signed by the active key, its kid in the header.
func (r *KeyRing) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = r.active.KID
	s, err := t.SignedString(r.active.Key)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// parsePrivateBlock reads a PKCS #8 or SEC 1 block holding a P-256 private key.
func parsePrivateBlock(block *pem.Block) (*ecdsa.PrivateKey, error) {
	var key any
	var err error
	if block.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("private key is a %T, want ECDSA P-256", key)
	}
	return ec, nil
}

func kidsOf(keys []SigningKey) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.KID)
	}
	return out
}
