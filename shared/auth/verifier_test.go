package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	es := newTestKey(t, "ES256", "es-1")
	es384 := newTestKey(t, "ES384", "es384-1")
	rs := newTestKey(t, "RS256", "rs-1")
	ps := rs.withKID("ps-1")
	ps.method = jwt.SigningMethodPS256
	ed := newTestKey(t, "EdDSA", "ed-1")
	hs := hmacKey(testSecret)
	srv := newJWKSServer(t, jwksDoc(t, es, rs))

	tests := []struct {
		name  string
		cfg   config.JWT
		token string
	}{
		{"ES256 via JWKS", config.JWT{JWKSURL: srv.URL}, signToken(t, es, validClaims(now, nil))},
		{"RS256 via JWKS", config.JWT{JWKSURL: srv.URL}, signToken(t, rs, validClaims(now, nil))},
		{"ES256 via PEM, token without kid", config.JWT{PublicKey: es.publicPEM(t)}, signToken(t, es.withKID(""), validClaims(now, nil))},
		{"ES256 via PEM, token with a kid", config.JWT{PublicKey: es.publicPEM(t)}, signToken(t, es, validClaims(now, nil))},
		{"ES256 via JWK", config.JWT{PublicKey: string(mustJSON(t, es.publicJWK(t)))}, signToken(t, es, validClaims(now, nil))},
		{"ES256 via JWKS JSON in the public key", config.JWT{PublicKey: string(jwksDoc(t, es, ed))}, signToken(t, es, validClaims(now, nil))},
		{"ES384 via JWK", config.JWT{PublicKey: string(mustJSON(t, es384.publicJWK(t)))}, signToken(t, es384, validClaims(now, nil))},
		{"RS256 via PEM", config.JWT{PublicKey: rs.publicPEM(t)}, signToken(t, rs.withKID(""), validClaims(now, nil))},
		{"PS256 via JWK pinned to PS256", config.JWT{PublicKey: string(mustJSON(t, ps.publicJWK(t)))}, signToken(t, ps, validClaims(now, nil))},
		{"EdDSA via PEM", config.JWT{PublicKey: ed.publicPEM(t)}, signToken(t, ed.withKID(""), validClaims(now, nil))},
		{"EdDSA via JWK", config.JWT{PublicKey: string(mustJSON(t, ed.publicJWK(t)))}, signToken(t, ed, validClaims(now, nil))},
		{"HS256 secret", config.JWT{HS256Secret: testSecret}, signToken(t, hs, validClaims(now, nil))},
		{"HS256 secret, token with a kid", config.JWT{HS256Secret: testSecret}, signToken(t, hs.withKID("supabase-1"), validClaims(now, nil))},
		{"HS256 secret beside a JWKS", config.JWT{HS256Secret: testSecret, JWKSURL: srv.URL}, signToken(t, hs, validClaims(now, nil))},
		{"ES256 via JWKS beside an HS256 secret", config.JWT{HS256Secret: testSecret, JWKSURL: srv.URL}, signToken(t, es, validClaims(now, nil))},
		{"audience among several", config.JWT{HS256Secret: testSecret}, signToken(t, hs, validClaims(now, func(c jwt.MapClaims) {
			c["aud"] = []string{"other", testAudience}
		}))},
		{"expired within leeway", config.JWT{HS256Secret: testSecret}, signToken(t, hs, validClaims(now, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-testLeeway+5*time.Second).Unix()
		}))},
		{"not before, within leeway", config.JWT{HS256Secret: testSecret}, signToken(t, hs, validClaims(now, func(c jwt.MapClaims) {
			c["nbf"] = now.Add(testLeeway - 5*time.Second).Unix()
		}))},
		{"issued in the future, within leeway", config.JWT{HS256Secret: testSecret}, signToken(t, hs, validClaims(now, func(c jwt.MapClaims) {
			c["iat"] = now.Add(testLeeway - 5*time.Second).Unix()
		}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, tt.cfg, clock.Now)
			got, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(wantPrincipal(), got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	es := newTestKey(t, "ES256", "es-1")
	stranger := newTestKey(t, "ES256", "es-1") // same kid, different key
	ed := newTestKey(t, "EdDSA", "ed-1")
	rs := newTestKey(t, "RS256", "rs-1") // published pinned to RS256
	rs512, ps256 := rs, rs
	rs512.method, ps256.method = jwt.SigningMethodRS512, jwt.SigningMethodPS256
	srv := newJWKSServer(t, jwksDoc(t, es, rs))
	// The verifier trusts the EC key twice: from the JWKS under its kid and as a kid-less PEM key, the setup
	// in which HS256-signed-with-the-public-key attacks work against verifiers that do not pin algorithms.
	cfg := config.JWT{JWKSURL: srv.URL, PublicKey: es.publicPEM(t)}
	v := newTestVerifier(t, cfg, clock.Now)

	good := signToken(t, es, validClaims(now, nil))
	pemBytes := []byte(es.publicPEM(t))
	point, err := es.public.(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(es.public)
	if err != nil {
		t.Fatal(err)
	}
	none := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(now, nil))
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(good, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 0xff
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	kidNotString := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims(now, nil))
		tok.Header["kid"] = 7
		s, err := tok.SignedString(es.sign)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"three garbage segments", "a.b.c"},
		{"oversized", strings.Repeat("a", maxTokenBytes+1)},
		{"alg none without kid", none("")},
		{"alg none naming the key", none("es-1")},
		{"HS256 signed with the PEM public key, no kid", signToken(t, hmacKey(string(pemBytes)), validClaims(now, nil))},
		{"HS256 signed with the PEM public key, naming the EC kid", signToken(t, hmacKey(string(pemBytes)).withKID("es-1"), validClaims(now, nil))},
		{"HS256 signed with the DER public key", signToken(t, hmacKey(string(der)), validClaims(now, nil))},
		{"HS256 signed with the raw EC point, naming the EC kid", signToken(t, hmacKey(string(point)).withKID("es-1"), validClaims(now, nil))},
		{"EdDSA token naming the EC kid", signToken(t, ed.withKID("es-1"), validClaims(now, nil))},
		{"RS512 token naming an RS256-pinned key", signToken(t, rs512, validClaims(now, nil))},
		{"PS256 token naming an RS256-pinned key", signToken(t, ps256, validClaims(now, nil))},
		{"same kid, other key", signToken(t, stranger, validClaims(now, nil))},
		{"unknown kid", signToken(t, stranger.withKID("ghost"), validClaims(now, nil))},
		{"tampered payload", tamperPayload(t, good, "sub", "0d9b1e47-3c2a-4f8e-b6d5-7a1c9e2f4b30")},
		{"tampered signature", badSig},
		{"kid not a string", kidNotString},
		{"wrong issuer", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }))},
		{"no issuer", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"wrong audience", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { c["aud"] = "other-api" }))},
		{"no audience", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"no exp", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"expired beyond leeway", signToken(t, es, validClaims(now, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-testLeeway-time.Second).Unix()
		}))},
		{"not yet valid beyond leeway", signToken(t, es, validClaims(now, func(c jwt.MapClaims) {
			c["nbf"] = now.Add(testLeeway + time.Minute).Unix()
		}))},
		{"issued in the future beyond leeway", signToken(t, es, validClaims(now, func(c jwt.MapClaims) {
			c["iat"] = now.Add(testLeeway + time.Minute).Unix()
		}))},
		{"missing sub", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"sub not a UUID", signToken(t, es, validClaims(now, func(c jwt.MapClaims) { c["sub"] = "auth0|12345" }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want an error wrapping ErrInvalidToken", p, err)
			}
			if errors.Is(err, ErrNoTenant) {
				t.Errorf("Verify error %v also wraps ErrNoTenant", err)
			}
		})
	}

	// The same verifier accepts the untampered token: the refusals above are not a broken setup.
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Errorf("Verify(good token): %v", err)
	}
}

func TestVerifyTenantClaims(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	hs := hmacKey(testSecret)
	const otherTenant = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

	tests := []struct {
		name        string
		tenantClaim string
		edit        func(jwt.MapClaims)
		want        Principal
		wantErr     error
	}{
		{
			name: "tenant_id at the top level",
			want: wantPrincipal(),
		},
		{
			name: "roles array, session_id and aal",
			edit: func(c jwt.MapClaims) {
				delete(c, "role")
				c["roles"] = []any{"owner", "member", "owner"}
				c["session_id"], c["aal"] = "sess-1", "aal2"
			},
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"owner", "member"}, SessionID: "sess-1", AAL: "aal2"},
		},
		{
			name: "sid when session_id is absent",
			edit: func(c jwt.MapClaims) { c["sid"] = "sess-2" },
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"member"}, SessionID: "sess-2", AAL: "aal1"},
		},
		{
			name: "upper-case UUIDs are normalised",
			edit: func(c jwt.MapClaims) {
				c["tenant_id"], c["sub"] = strings.ToUpper(testTenant), strings.ToUpper(testUser)
			},
			want: wantPrincipal(),
		},
		{
			name:        "Supabase app_metadata.tenant_id with its role before the top-level role",
			tenantClaim: "app_metadata.tenant_id",
			edit: func(c jwt.MapClaims) {
				delete(c, "tenant_id")
				c["role"] = "authenticated"
				c["app_metadata"] = map[string]any{"provider": "email", "tenant_id": testTenant, "role": "admin"}
			},
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"admin", "authenticated"}, AAL: "aal1"},
		},
		{
			name:        "app_metadata.roles array",
			tenantClaim: "app_metadata.tenant_id",
			edit: func(c jwt.MapClaims) {
				c["tenant_id"] = otherTenant // a top-level tenant_id is not the configured claim
				c["role"] = "authenticated"
				c["app_metadata"] = map[string]any{"tenant_id": testTenant, "roles": []any{"moderator", "member"}}
			},
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"moderator", "member", "authenticated"}, AAL: "aal1"},
		},
		{
			name:        "Cognito custom:tenant_id, the colon part of the name",
			tenantClaim: "custom:tenant_id",
			edit: func(c jwt.MapClaims) {
				delete(c, "tenant_id")
				c["custom:tenant_id"] = testTenant
			},
			want: wantPrincipal(),
		},
		{
			name:        "namespaced claim whose name holds dots",
			tenantClaim: "https://corral.test/tenant_id",
			edit: func(c jwt.MapClaims) {
				delete(c, "tenant_id")
				c["https://corral.test/tenant_id"] = testTenant
			},
			want: wantPrincipal(),
		},
		{
			name:    "missing tenant",
			edit:    func(c jwt.MapClaims) { delete(c, "tenant_id") },
			wantErr: ErrNoTenant,
		},
		{
			name:    "tenant not a UUID",
			edit:    func(c jwt.MapClaims) { c["tenant_id"] = "acme" },
			wantErr: ErrNoTenant,
		},
		{
			name:    "tenant not a string",
			edit:    func(c jwt.MapClaims) { c["tenant_id"] = 42 },
			wantErr: ErrNoTenant,
		},
		{
			name:        "app_metadata path but the tenant is only at the top level",
			tenantClaim: "app_metadata.tenant_id",
			edit:        func(c jwt.MapClaims) { c["app_metadata"] = map[string]any{"provider": "email"} },
			wantErr:     ErrNoTenant,
		},
		{
			name:        "app_metadata not an object",
			tenantClaim: "app_metadata.tenant_id",
			edit:        func(c jwt.MapClaims) { c["app_metadata"] = testTenant },
			wantErr:     ErrNoTenant,
		},
		{
			name:        "custom:tenant_id configured, plain tenant_id sent",
			tenantClaim: "custom:tenant_id",
			wantErr:     ErrNoTenant,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, config.JWT{HS256Secret: testSecret, TenantClaim: tt.tenantClaim}, clock.Now)
			got, err := v.Verify(context.Background(), signToken(t, hs, validClaims(now, tt.edit)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %+v, %v; want an error wrapping %v", got, err, tt.wantErr)
				}
				if errors.Is(err, ErrInvalidToken) {
					t.Errorf("Verify error %v wraps ErrInvalidToken too", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	t.Parallel()
	es := newTestKey(t, "ES256", "es-1")
	ecJWK := es.publicJWK(t)
	ecJWK["alg"] = "HS256"
	privJWK := es.publicJWK(t)
	privJWK["d"] = "AAAA"
	tests := []struct {
		name string
		cfg  config.JWT
	}{
		{"no key source", config.JWT{Issuer: testIssuer, Audience: testAudience}},
		{"no issuer", config.JWT{Audience: testAudience, HS256Secret: testSecret}},
		{"no audience", config.JWT{Issuer: testIssuer, HS256Secret: testSecret}},
		{"short HS256 secret", config.JWT{Issuer: testIssuer, Audience: testAudience, HS256Secret: "short"}},
		{"public key not PEM or JSON", config.JWT{Issuer: testIssuer, Audience: testAudience, PublicKey: "ssh-ed25519 AAAA"}},
		{"PEM private key", config.JWT{Issuer: testIssuer, Audience: testAudience, PublicKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}},
		{"JWK pinned to an algorithm its key cannot do", config.JWT{Issuer: testIssuer, Audience: testAudience, PublicKey: string(mustJSON(t, ecJWK))}},
		{"JWK with a private part", config.JWT{Issuer: testIssuer, Audience: testAudience, PublicKey: string(mustJSON(t, privJWK))}},
		{"JWKS with an unusable key", config.JWT{Issuer: testIssuer, Audience: testAudience, PublicKey: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`}},
		{"JWKS URL not http", config.JWT{Issuer: testIssuer, Audience: testAudience, JWKSURL: "file:///etc/jwks.json"}},
		{"empty tenant claim segment", config.JWT{Issuer: testIssuer, Audience: testAudience, HS256Secret: testSecret, TenantClaim: "app_metadata..tenant_id"}},
		{"negative leeway", config.JWT{Issuer: testIssuer, Audience: testAudience, HS256Secret: testSecret, Leeway: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if v, err := NewVerifier(tt.cfg, nil); err == nil {
				t.Fatalf("NewVerifier = %+v, nil; want an error", v)
			}
		})
	}
}

func TestVerifyWithGatewayOnlyConfig(t *testing.T) {
	t.Parallel()
	v, err := NewVerifier(config.JWT{TrustGatewayClaims: true}, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	tok := signToken(t, hmacKey(testSecret), validClaims(time.Now(), nil))
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify with no keys = %v; want ErrInvalidToken", err)
	}
}

func TestVerifyCache(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	es := newTestKey(t, "ES256", "")
	v := newTestVerifier(t, config.JWT{PublicKey: es.publicPEM(t)}, clock.Now)
	ctx := context.Background()
	token := signToken(t, es, validClaims(clock.Now(), nil)) // exp = now + 1h

	first, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := v.cache.size(); got != 1 {
		t.Fatalf("cache size = %d after one verified token; want 1", got)
	}

	// Without any key, only the cache can answer.
	keys := v.primary.static
	v.primary.static = nil
	second, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatalf("Verify from cache: %v", err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached principal (-want +got):\n%s", diff)
	}
	second.Roles[0] = "owner" // a caller editing its copy must not change the cache
	third, err := v.Verify(ctx, token)
	if err != nil {
		t.Fatalf("Verify from cache: %v", err)
	}
	if diff := cmp.Diff(first, third); diff != "" {
		t.Errorf("cached principal after a caller edited its copy (-want +got):\n%s", diff)
	}

	// Past exp the cache must not answer, even inside the leeway a full verification grants.
	clock.Advance(time.Hour + time.Second)
	if _, err := v.Verify(ctx, token); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify of an expired cached token without keys = %v; want ErrInvalidToken", err)
	}
	v.primary.static = keys
	if _, err := v.Verify(ctx, token); err != nil {
		t.Errorf("Verify of a token expired within the leeway: %v", err)
	}
	clock.Advance(testLeeway)
	if _, err := v.Verify(ctx, token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify of a token expired beyond the leeway = %v; want ErrInvalidToken", err)
	}
}

// BenchmarkVerify compares a verification that checks the ES256 signature with one answered from the cache.
func BenchmarkVerify(b *testing.B) {
	es := newTestKey(b, "ES256", "es-1")
	now := time.Now()
	token := signToken(b, es, validClaims(now, nil))
	cfg := config.JWT{PublicKey: string(mustJSON(b, es.publicJWK(b))), Issuer: testIssuer, Audience: testAudience, Leeway: testLeeway}
	ctx := context.Background()
	for _, bc := range []struct {
		name      string
		cacheSize int
	}{{"uncached", 0}, {"cached", defaultCacheSize}} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := newVerifier(cfg, nil, verifierOptions{now: time.Now, cacheSize: bc.cacheSize})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
