package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// SigningKey is an ES256 (P-256) private key with the kid it is published under.
type SigningKey struct {
	KID string
	Key *ecdsa.PrivateKey
}

// Claims are what a Signer puts in a token besides iat, exp and jti. Empty fields are left out of the token.
type Claims struct {
	Issuer    string // iss
	Audience  string // aud
	Subject   string // sub: the user's UUID
	TenantID  string // tenant_id
	Role      string // role
	SessionID string // session_id
	AAL       string // aal
}

// Signer issues ES256 tokens. The first key signs; all keys are published by JWKS, so a key being rotated out
// keeps verifying the tokens it signed. A Signer is immutable and safe for concurrent use.
type Signer struct {
	keys []SigningKey
}

// NewSigner returns a Signer for keys. It fails when keys is empty, a kid is empty or repeated, or a key is
// missing or not on P-256.
func NewSigner(keys ...SigningKey) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: signer needs at least one key")
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		switch {
		case k.KID == "":
			return nil, fmt.Errorf("auth: signing key %d has no kid", i)
		case seen[k.KID]:
			return nil, fmt.Errorf("auth: kid %q is used twice", k.KID)
		case k.Key == nil || k.Key.Curve != elliptic.P256():
			return nil, fmt.Errorf("auth: signing key %q is not a P-256 key", k.KID)
		}
		seen[k.KID] = true
	}
	return &Signer{keys: append([]SigningKey(nil), keys...)}, nil
}

// Keys returns the signer's keys, the signing key first: MarshalKeyRingPEM turns them into JWT_SIGNING_KEYS
// with the same kids.
func (s *Signer) Keys() []SigningKey { return append([]SigningKey(nil), s.keys...) }

// Sign returns a compact ES256 token carrying c, iat (now), exp (now + ttl) and a random jti, with the signing
// key's kid in its header. It fails when ttl is not positive or signing fails.
func (s *Signer) Sign(c Claims, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("auth: token ttl %s is not positive", ttl)
	}
	now := time.Now()
	mc := jwt.MapClaims{
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": uuid.NewString(),
	}
	for name, v := range map[string]string{
		"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "tenant_id": c.TenantID,
		"role": c.Role, "session_id": c.SessionID, "aal": c.AAL,
	} {
		if v != "" {
			mc[name] = v
		}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, mc)
	t.Header["kid"] = s.keys[0].KID
	signed, err := t.SignedString(s.keys[0].Key)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return signed, nil
}

// JWKS returns the public keys as a JWKS document (kty EC, crv P-256, kid, alg ES256, use sig), signing key
// first. It fails only if a key cannot be encoded.
func (s *Signer) JWKS() ([]byte, error) {
	type key struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
		KID string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	doc := struct {
		Keys []key `json:"keys"`
	}{Keys: make([]key, 0, len(s.keys))}
	for _, k := range s.keys {
		point, err := k.Key.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each
		if err != nil {
			return nil, fmt.Errorf("auth: encode key %q: %w", k.KID, err)
		}
		doc.Keys = append(doc.Keys, key{
			Kty: "EC", Crv: "P-256",
			X:   base64.RawURLEncoding.EncodeToString(point[1:33]),
			Y:   base64.RawURLEncoding.EncodeToString(point[33:]),
			KID: k.KID, Alg: "ES256", Use: "sig",
		})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("auth: encode JWKS: %w", err)
	}
	return out, nil
}

// GenerateSigningKey returns a new random P-256 key. It fails only if the system's randomness fails.
func GenerateSigningKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key: %w", err)
	}
	return k, nil
}

// ParseSigningKeyPEM reads a P-256 private key from PEM: a PKCS #8 "PRIVATE KEY" or a SEC 1 "EC PRIVATE KEY"
// block. It fails when there is no such block or the key is not an ECDSA P-256 key.
func ParseSigningKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("auth: no PRIVATE KEY or EC PRIVATE KEY PEM block")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue // e.g. "EC PARAMETERS" emitted by openssl ecparam
		}
		if err != nil {
			return nil, fmt.Errorf("auth: parse signing key: %w", err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("auth: signing key is a %T, want an ECDSA P-256 key", key)
		}
		if ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("auth: signing key is on %s, want P-256", ec.Curve.Params().Name)
		}
		return ec, nil
	}
}

// MarshalSigningKeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block. It fails when key is not a valid
// ECDSA key.
func MarshalSigningKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("auth: nil signing key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal signing key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
