package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

func TestSignerRoundTrip(t *testing.T) {
	t.Parallel()
	oldKey, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	// The new key signs; the old one is still published for the tokens it signed.
	current, err := NewSigner(SigningKey{KID: "2031-03", Key: newKey}, SigningKey{KID: "2031-02", Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	previous, err := NewSigner(SigningKey{KID: "2031-02", Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := current.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	var kids []string
	for _, k := range parsed.Keys {
		if k["alg"] != "ES256" || k["use"] != "sig" || k["kty"] != "EC" || k["crv"] != "P-256" {
			t.Errorf("JWKS key %v lacks kty EC, crv P-256, alg ES256 or use sig", k)
		}
		kids = append(kids, k["kid"])
	}
	if diff := cmp.Diff([]string{"2031-03", "2031-02"}, kids); diff != "" {
		t.Errorf("JWKS kids (-want +got):\n%s", diff)
	}

	srv := newJWKSServer(t, doc)
	v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, time.Now)
	claims := Claims{
		Issuer: testIssuer, Audience: testAudience, Subject: testUser, TenantID: testTenant,
		Role: RoleAdmin, SessionID: "sess-7", AAL: "aal2",
	}
	want := Principal{TenantID: testTenant, UserID: testUser, Roles: []string{RoleAdmin}, SessionID: "sess-7", AAL: "aal2"}
	for _, tt := range []struct {
		name   string
		signer *Signer
	}{{"current key", current}, {"previous key", previous}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, err := tt.signer.Sign(claims, 10*time.Minute)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignerSign(t *testing.T) {
	t.Parallel()
	key, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(SigningKey{KID: "k", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(Claims{Subject: testUser}, 0); err == nil {
		t.Error("Sign with ttl 0 succeeded; want an error")
	}
	a, err := s.Sign(Claims{Subject: testUser}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Sign(Claims{Subject: testUser}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two tokens signed in a row are identical; want distinct jti")
	}
}

func TestNewSignerRejects(t *testing.T) {
	t.Parallel()
	p256, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []SigningKey
	}{
		{"no keys", nil},
		{"empty kid", []SigningKey{{Key: p256}}},
		{"nil key", []SigningKey{{KID: "a"}}},
		{"P-384 key", []SigningKey{{KID: "a", Key: p384}}},
		{"duplicate kid", []SigningKey{{KID: "a", Key: p256}, {KID: "a", Key: p256}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, err := NewSigner(tt.keys...); err == nil {
				t.Errorf("NewSigner = %+v, nil; want an error", s)
			}
		})
	}
}

func TestSigningKeyPEM(t *testing.T) {
	t.Parallel()
	key, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := MarshalSigningKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})
	sec1 := append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})...)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384PEM, err := MarshalSigningKeyPEM(p384)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		pem     []byte
		wantErr bool
	}{
		{"PKCS #8 round trip", pkcs8, false},
		{"SEC 1 after EC PARAMETERS", sec1, false},
		{"P-384 refused", p384PEM, true},
		{"public key refused", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), true},
		{"not PEM", []byte("hello"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSigningKeyPEM(tt.pem)
			if tt.wantErr {
				if err == nil {
					t.Fatal("ParseSigningKeyPEM succeeded; want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSigningKeyPEM: %v", err)
			}
			if !got.Equal(key) {
				t.Error("parsed key differs from the key written")
			}
		})
	}
	if _, err := MarshalSigningKeyPEM(nil); err == nil {
		t.Error("MarshalSigningKeyPEM(nil) succeeded; want an error")
	}
}
