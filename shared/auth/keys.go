package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// minRSABits is the smallest RSA modulus accepted for verification (RFC 7518 section 3.3).
const minRSABits = 2048

// verifyKey is one key the verifier trusts, pinned to the single algorithm it may verify.
type verifyKey struct {
	kid string // empty for keys that carry no identifier (a PEM key, the HS256 secret)
	alg string // the JWS "alg" this key verifies, e.g. ES256; never "none"
	key any    // *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
}

// keySet is an immutable collection of keys, shared by readers once built.
type keySet struct {
	byKID map[string]verifyKey
	all   []verifyKey
}

func newKeySet(keys []verifyKey) *keySet {
	s := &keySet{byKID: make(map[string]verifyKey, len(keys))}
	for _, k := range keys {
		if k.kid != "" {
			if _, dup := s.byKID[k.kid]; dup {
				continue // the first key published under a kid wins
			}
			s.byKID[k.kid] = k
		}
		s.all = append(s.all, k)
	}
	return s
}

// errAlgMismatch and errAmbiguousKey end the key search: no other key source may be tried.
var (
	errAlgMismatch  = errors.New("token alg differs from the alg pinned to its key")
	errAmbiguousKey = errors.New("token has no kid and several keys match its alg")
)

// find selects the key for a token header. With a kid it returns that key, refusing it when its pinned alg
// differs from alg; without a kid it returns the single key pinned to alg. ok is false when nothing matched;
// err is set when the search must stop (alg mismatch, ambiguity).
func (s *keySet) find(kid, alg string) (k verifyKey, ok bool, err error) {
	if s == nil {
		return verifyKey{}, false, nil
	}
	if kid != "" {
		k, ok = s.byKID[kid]
		if ok && k.alg != alg {
			return verifyKey{}, false, fmt.Errorf("%w: kid %q is pinned to %s, token says %s", errAlgMismatch, kid, k.alg, alg)
		}
		return k, ok, nil
	}
	return s.single(alg, false)
}

// findKidless returns the single key without a kid that is pinned to alg: such a key (a PEM key, the HS256
// secret) cannot be named by a kid, so a token that names one anyway may still use it.
func (s *keySet) findKidless(alg string) (verifyKey, bool, error) {
	if s == nil {
		return verifyKey{}, false, nil
	}
	return s.single(alg, true)
}

func (s *keySet) single(alg string, kidlessOnly bool) (verifyKey, bool, error) {
	var found verifyKey
	n := 0
	for _, k := range s.all {
		if k.alg == alg && (!kidlessOnly || k.kid == "") {
			found = k
			n++
		}
	}
	switch n {
	case 0:
		return verifyKey{}, false, nil
	case 1:
		return found, true, nil
	default:
		return verifyKey{}, false, fmt.Errorf("%w: %d keys for %s", errAmbiguousKey, n, alg)
	}
}

// parseStaticKeys reads cfg.PublicKey: one or more PEM blocks (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE), a
// JWK, or a JWKS document. It fails when the text holds no usable key or any key it holds is unusable.
func parseStaticKeys(text string) ([]verifyKey, error) {
	text = strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(text, "-----BEGIN"):
		return parsePEMKeys([]byte(text))
	case strings.HasPrefix(text, "{"):
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal([]byte(text), &probe); err != nil {
			return nil, fmt.Errorf("public key JSON: %w", err)
		}
		if probe.Keys != nil {
			keys, skipped, err := parseJWKS([]byte(text))
			if err != nil {
				return nil, err
			}
			if len(skipped) > 0 {
				return nil, fmt.Errorf("public key JWKS: %s", strings.Join(skipped, "; "))
			}
			return keys, nil
		}
		var j jwk
		if err := json.Unmarshal([]byte(text), &j); err != nil {
			return nil, fmt.Errorf("public key JWK: %w", err)
		}
		if j.Use != "" && j.Use != "sig" {
			return nil, fmt.Errorf("public key JWK: use %q, want sig", j.Use)
		}
		k, err := j.verifyKey()
		if err != nil {
			return nil, fmt.Errorf("public key JWK: %w", err)
		}
		return []verifyKey{k}, nil
	default:
		return nil, errors.New("public key is neither PEM nor JSON")
	}
}

func parsePEMKeys(data []byte) ([]verifyKey, error) {
	var keys []verifyKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			cert, err = x509.ParseCertificate(block.Bytes)
			if err == nil {
				pub = cert.PublicKey
			}
		default:
			err = fmt.Errorf("unsupported PEM block %q (want a public key)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("public key PEM: %w", err)
		}
		alg, err := algForKey(pub)
		if err != nil {
			return nil, fmt.Errorf("public key PEM: %w", err)
		}
		keys = append(keys, verifyKey{alg: alg, key: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("public key PEM: no PEM block found")
	}
	return keys, nil
}

// algForKey derives the one algorithm a key verifies from its type: EC by curve, RSA -> RS256, Ed25519 -> EdDSA.
func algForKey(pub any) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits is below %d", k.N.BitLen(), minRSABits)
		}
		return "RS256", nil
	case ed25519.PublicKey:
		return "EdDSA", nil
	default:
		return "", fmt.Errorf("unsupported public key type %T", pub)
	}
}

// jwk is the subset of RFC 7517 / 7518 / 8037 members needed for public signature keys.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	D   string `json:"d,omitempty"`
}

// parseJWKS reads a JWKS document. Keys that are not for signatures or not of a supported type are skipped
// (and described in skipped) so one exotic key does not hide the others; a malformed document is an error.
func parseJWKS(data []byte) (keys []verifyKey, skipped []string, err error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS: %w", err)
	}
	for i, j := range doc.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k, err := j.verifyKey()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, j.Kid, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

// verifyKey converts the JWK to a key pinned to one algorithm: the JWK's alg when present and consistent
// with the key type, else the algorithm derived from the key type.
func (j jwk) verifyKey() (verifyKey, error) {
	if j.D != "" {
		return verifyKey{}, errors.New("JWK holds a private key; publish only the public part")
	}
	var pub any
	switch j.Kty {
	case "EC":
		curve, size := curveFor(j.Crv)
		if curve == nil {
			return verifyKey{}, fmt.Errorf("unsupported EC curve %q", j.Crv)
		}
		x, err := fixedBytes(j.X, size)
		if err != nil {
			return verifyKey{}, fmt.Errorf("EC x: %w", err)
		}
		y, err := fixedBytes(j.Y, size)
		if err != nil {
			return verifyKey{}, fmt.Errorf("EC y: %w", err)
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return verifyKey{}, fmt.Errorf("EC point: %w", err)
		}
		pub = k
	case "RSA":
		n, err := decodeB64URL(j.N)
		if err != nil || len(n) == 0 {
			return verifyKey{}, errors.New("RSA n is not base64url")
		}
		e, err := decodeB64URL(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return verifyKey{}, errors.New("RSA e is not a base64url integer of at most 4 bytes")
		}
		exp := new(big.Int).SetBytes(e).Int64()
		if exp < 3 || exp%2 == 0 {
			return verifyKey{}, fmt.Errorf("RSA exponent %d is invalid", exp)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
	case "OKP":
		if j.Crv != "Ed25519" {
			return verifyKey{}, fmt.Errorf("unsupported OKP curve %q", j.Crv)
		}
		x, err := decodeB64URL(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return verifyKey{}, errors.New("Ed25519 x is not a base64url 32-byte key")
		}
		pub = ed25519.PublicKey(x)
	default:
		return verifyKey{}, fmt.Errorf("unsupported kty %q", j.Kty)
	}
	derived, err := algForKey(pub)
	if err != nil {
		return verifyKey{}, err
	}
	alg := derived
	if j.Alg != "" {
		alg = j.Alg
		if alg == "Ed25519" { // RFC 9864 fully-specified name
			alg = "EdDSA"
		}
		if !algFits(alg, derived) {
			return verifyKey{}, fmt.Errorf("alg %q does not fit a %s key", j.Alg, derived)
		}
	}
	return verifyKey{kid: j.Kid, alg: alg, key: pub}, nil
}

// algFits reports whether alg may be pinned to a key whose derived algorithm is derived.
func algFits(alg, derived string) bool {
	if derived == "RS256" {
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
		return false
	}
	return alg == derived
}

func curveFor(crv string) (elliptic.Curve, int) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32
	case "P-384":
		return elliptic.P384(), 48
	case "P-521":
		return elliptic.P521(), 66
	}
	return nil, 0
}

// fixedBytes decodes a base64url coordinate and left-pads it to size bytes (some issuers drop leading zeros).
func fixedBytes(s string, size int) ([]byte, error) {
	b, err := decodeB64URL(s)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	if len(b) == 0 || len(b) > size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	out := make([]byte, size)
	copy(out[size-len(b):], b)
	return out, nil
}

// decodeB64URL decodes unpadded base64url (RFC 7515 section 2), tolerating padding some issuers add.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
