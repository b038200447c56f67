package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rfc7638 computes a P-256 key's JWK thumbprint independently of Thumbprint: encoding/json writes map keys
// sorted, which is the member order RFC 7638 requires.
func rfc7638(tb testing.TB, pub *ecdsa.PublicKey) string {
	tb.Helper()
	point, err := pub.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	sum := sha256.Sum256(mustJSON(tb, map[string]string{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}))
	return b64(sum[:])
}

func pemBlock(tb testing.TB, typ string, der []byte, headers map[string]string) string {
	tb.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der}))
}

func TestParseKeyRing(t *testing.T) {
	t.Parallel()
	k1, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	k3, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(k2)
	if err != nil {
		t.Fatal(err)
	}
	pub3, err := x509.MarshalPKIXPublicKey(&k3.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	params := pemBlock(t, "EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}, nil)
	marshalled, err := MarshalKeyRingPEM(SigningKey{KID: "a", Key: k1}, SigningKey{KID: "b", Key: k2})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		text       string
		active     string
		wantKIDs   []string
		wantActive string
		wantErr    string // a substring of the error; "" for success
	}{
		{
			name:     "one PKCS #8 key without a kid: its thumbprint",
			text:     pemBlock(t, "PRIVATE KEY", pkcs8(k1), nil),
			wantKIDs: []string{rfc7638(t, &k1.PublicKey)}, wantActive: rfc7638(t, &k1.PublicKey),
		},
		{
			name:     "Kid headers, SEC 1 after EC PARAMETERS, a retired public key; the first signs",
			text:     pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "2031-03"}) + params + pemBlock(t, "EC PRIVATE KEY", sec1, map[string]string{"kid": "2031-02"}) + pemBlock(t, "PUBLIC KEY", pub3, map[string]string{"KID": "2031-01"}),
			wantKIDs: []string{"2031-03", "2031-02", "2031-01"}, wantActive: "2031-03",
		},
		{
			name:     "JWT_SIGNING_KID picks the second key, which is published first",
			text:     pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "a"}) + pemBlock(t, "PRIVATE KEY", pkcs8(k2), map[string]string{"Kid": "b"}),
			active:   "b",
			wantKIDs: []string{"b", "a"}, wantActive: "b",
		},
		{
			name:     "retired public key without a kid: its thumbprint",
			text:     "\n  " + pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "a"}) + pemBlock(t, "PUBLIC KEY", pub3, nil) + "\n",
			wantKIDs: []string{"a", rfc7638(t, &k3.PublicKey)}, wantActive: "a",
		},
		{
			name:     "MarshalKeyRingPEM round trip",
			text:     string(marshalled),
			wantKIDs: []string{"a", "b"}, wantActive: "a",
		},
		{name: "empty", text: "", wantErr: "no PRIVATE KEY"},
		{name: "not PEM", text: "hello", wantErr: "no PRIVATE KEY"},
		{name: "only a public key", text: pemBlock(t, "PUBLIC KEY", pub3, nil), wantErr: "no PRIVATE KEY"},
		{name: "P-384 key", text: string(mustPEM(t, p384)), wantErr: "P-256"},
		{name: "corrupt key", text: pemBlock(t, "PRIVATE KEY", []byte{1, 2, 3}, nil), wantErr: "PEM block 1"},
		{name: "unsupported block", text: pemBlock(t, "PRIVATE KEY", pkcs8(k1), nil) + pemBlock(t, "CERTIFICATE", []byte{1}, nil), wantErr: "PEM block 2"},
		{name: "kid used twice", text: pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "a"}) + pemBlock(t, "PUBLIC KEY", pub3, map[string]string{"Kid": "a"}), wantErr: "used twice"},
		{name: "same key twice without kids", text: pemBlock(t, "PRIVATE KEY", pkcs8(k1), nil) + pemBlock(t, "PRIVATE KEY", pkcs8(k1), nil), wantErr: "used twice"},
		{name: "active kid unknown", text: pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "a"}), active: "z", wantErr: `"z"`},
		{name: "active kid of a retired key", text: pemBlock(t, "PRIVATE KEY", pkcs8(k1), map[string]string{"Kid": "a"}) + pemBlock(t, "PUBLIC KEY", pub3, map[string]string{"Kid": "r"}), active: "r", wantErr: `"r"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ring, err := ParseKeyRing(tt.text, tt.active)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeyRing = %v; want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "MIG") {
					t.Errorf("error %q shows key material", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyRing: %v", err)
			}
			if diff := cmp.Diff(tt.wantKIDs, ring.KIDs()); diff != "" {
				t.Errorf("KIDs (-want +got):\n%s", diff)
			}
			if got := ring.ActiveKID(); got != tt.wantActive {
				t.Errorf("ActiveKID = %q; want %q", got, tt.wantActive)
			}
		})
	}
}

func mustPEM(tb testing.TB, k *ecdsa.PrivateKey) []byte {
	tb.Helper()
	b, err := MarshalSigningKeyPEM(k)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestKeyRingJWKS(t *testing.T) {
	t.Parallel()
	k1, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	retired, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := NewKeyRing("k2", []SigningKey{{KID: "k1", Key: k1}, {KID: "k2", Key: k2}}, []VerifyingKey{{KID: "r", Key: &retired.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ring.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"d"`) {
		t.Fatalf("JWKS publishes a private part: %s", doc)
	}
	// The document must be what the Verifier's own JWKS parser accepts, each key pinned to ES256.
	keys, skipped, err := parseJWKS(doc)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("parseJWKS = %v, skipped %v", err, skipped)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.kid+" "+k.alg)
	}
	if diff := cmp.Diff([]string{"k2 ES256", "k1 ES256", "r ES256"}, got); diff != "" {
		t.Errorf("JWKS keys (-want +got):\n%s", diff)
	}
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range raw.Keys {
		if k["use"] != "sig" || k["kty"] != "EC" || k["crv"] != "P-256" {
			t.Errorf("JWKS key %v: want use sig, kty EC, crv P-256", k)
		}
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	t.Parallel()
	k, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keys    []SigningKey
		retired []VerifyingKey
	}{
		{"no keys", nil, nil},
		{"only retired keys", nil, []VerifyingKey{{KID: "r", Key: &k.PublicKey}}},
		{"empty kid", []SigningKey{{Key: k}}, nil},
		{"nil key", []SigningKey{{KID: "a"}}, nil},
		{"P-384", []SigningKey{{KID: "a", Key: p384}}, nil},
		{"retired nil key", []SigningKey{{KID: "a", Key: k}}, []VerifyingKey{{KID: "r"}}},
		{"retired kid reused", []SigningKey{{KID: "a", Key: k}}, []VerifyingKey{{KID: "a", Key: &k.PublicKey}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if r, err := NewKeyRing("", tt.keys, tt.retired); err == nil {
				t.Errorf("NewKeyRing = %+v, nil; want an error", r)
			}
		})
	}
}

func TestIsKeyReference(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]bool{"ssm:/x": true, " secretsmanager:x": true, "-----BEGIN PRIVATE KEY-----": false, "": false} {
		if got := IsKeyReference(value); got != want {
			t.Errorf("IsKeyReference(%.20q) = %v; want %v", value, got, want)
		}
	}
}
