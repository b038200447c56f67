package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rocker-app/corral/shared/config"
)

const (
	testIssuer   = "https://issuer.corral.test/auth/v1"
	testAudience = "corral-api"
	testTenant   = "3f0c8a52-6b1e-4c0f-9a57-2d4b8e1f6a90"
	testUser     = "b7e4d1c9-0a3f-4e62-8d15-9c2f7a6b3e01"
	testSecret   = "a-shared-secret-that-is-at-least-32-bytes-long"
	testLeeway   = 30 * time.Second
)

// fakeClock is a settable clock shared by a verifier and the test driving it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testKey is a key pair a test signs with, plus how it is published.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	sign   any // private key, or []byte for HMAC
	public any
}

// newTestKey generates a key for alg: ES256, ES384, RS256, PS256 or EdDSA.
func newTestKey(tb testing.TB, alg, kid string) testKey {
	tb.Helper()
	k := testKey{kid: kid, method: jwt.GetSigningMethod(alg)}
	var err error
	switch alg {
	case "ES256", "ES384":
		curve := elliptic.P256()
		if alg == "ES384" {
			curve = elliptic.P384()
		}
		var priv *ecdsa.PrivateKey
		priv, err = ecdsa.GenerateKey(curve, rand.Reader)
		if err == nil {
			k.sign, k.public = priv, &priv.PublicKey
		}
	case "RS256", "PS256":
		var priv *rsa.PrivateKey
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			k.sign, k.public = priv, &priv.PublicKey
		}
	case "EdDSA":
		var pub ed25519.PublicKey
		var priv ed25519.PrivateKey
		pub, priv, err = ed25519.GenerateKey(rand.Reader)
		k.sign, k.public = priv, pub
	default:
		tb.Fatalf("newTestKey: unsupported alg %s", alg)
	}
	if err != nil {
		tb.Fatalf("newTestKey(%s): %v", alg, err)
	}
	return k
}

func hmacKey(secret string) testKey {
	return testKey{method: jwt.SigningMethodHS256, sign: []byte(secret)}
}

// withKID returns a copy of k published and signing under kid ("" for no kid header).
func (k testKey) withKID(kid string) testKey {
	k.kid = kid
	return k
}

// publicJWK is the public half of k as a JWK with kid and alg.
func (k testKey) publicJWK(tb testing.TB) map[string]any {
	tb.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	j := map[string]any{"alg": k.method.Alg(), "use": "sig"}
	if k.kid != "" {
		j["kid"] = k.kid
	}
	switch pub := k.public.(type) {
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		size := (len(point) - 1) / 2
		j["kty"], j["crv"] = "EC", pub.Curve.Params().Name
		j["x"], j["y"] = b64(point[1:1+size]), b64(point[1+size:])
	case *rsa.PublicKey:
		j["kty"], j["n"], j["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case ed25519.PublicKey:
		j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b64(pub)
	default:
		tb.Fatalf("publicJWK: %T", k.public)
	}
	return j
}

func (k testKey) publicPEM(tb testing.TB) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.public)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func jwksDoc(tb testing.TB, keys ...testKey) []byte {
	tb.Helper()
	list := make([]any, 0, len(keys))
	for _, k := range keys {
		list = append(list, k.publicJWK(tb))
	}
	return mustJSON(tb, map[string]any{"keys": list})
}

// signToken signs claims with k, naming k.kid in the header when it is set.
func signToken(tb testing.TB, k testKey, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		t.Header["kid"] = k.kid
	}
	s, err := t.SignedString(k.sign)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// validClaims are claims every default verifier accepts at now; edit applies changes (delete keys to drop them).
func validClaims(now time.Time, edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       testUser,
		"tenant_id": testTenant,
		"role":      "member",
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func wantPrincipal() Principal {
	return Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"member"}, AAL: "aal1"}
}

// newTestVerifier builds a verifier for cfg on now; Issuer, Audience and Leeway default to the test values.
func newTestVerifier(tb testing.TB, cfg config.JWT, now func() time.Time) *Verifier {
	tb.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = testLeeway
	}
	v, err := newVerifier(cfg, nil, verifierOptions{now: now, cacheSize: defaultCacheSize})
	if err != nil {
		tb.Fatalf("newVerifier: %v", err)
	}
	return v
}

// jwksServer is an HTTP peer serving a JWKS document that a test can change, counting requests.
type jwksServer struct {
	URL  string
	hits atomic.Int64

	mu     sync.Mutex
	status int
	body   []byte
	gate   chan struct{} // when set, requests wait for it to close
	enter  chan struct{} // when set, receives once per request that reached the handler
}

func newJWKSServer(tb testing.TB, doc []byte) *jwksServer {
	tb.Helper()
	s := &jwksServer{status: http.StatusOK, body: doc}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		status, body, gate, enter := s.status, s.body, s.gate, s.enter
		s.mu.Unlock()
		if enter != nil {
			enter <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// tamperPayload replaces a claim in a signed token, keeping the original header and signature.
func tamperPayload(tb testing.TB, token, claim string, value any) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		tb.Fatal(err)
	}
	claims[claim] = value
	parts[1] = base64.RawURLEncoding.EncodeToString(mustJSON(tb, claims))
	return strings.Join(parts, ".")
}
