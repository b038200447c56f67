package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

// newTestRing returns a ring of fresh keys named kids; the first signs.
func newTestRing(tb testing.TB, kids ...string) (*KeyRing, []SigningKey) {
	tb.Helper()
	keys := make([]SigningKey, 0, len(kids))
	for _, kid := range kids {
		k, err := GenerateSigningKey()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, SigningKey{KID: kid, Key: k})
	}
	ring, err := NewKeyRing("", keys, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return ring, keys
}

func newTestIssuer(tb testing.TB, ring *KeyRing, now func() time.Time) *Issuer {
	tb.Helper()
	iss, err := newIssuer(ring, testIssuer, testAudience, 0, now)
	if err != nil {
		tb.Fatal(err)
	}
	return iss
}

// ringVerifier trusts ring in process for the test issuer and audience.
func ringVerifier(tb testing.TB, ring *KeyRing, now func() time.Time) *Verifier {
	tb.Helper()
	v, err := newVerifier(config.JWT{Issuer: testIssuer, Audience: testAudience, Leeway: testLeeway},
		nil, verifierOptions{now: now, cacheSize: defaultCacheSize, ring: ring})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// tokenParts decodes a compact JWS's header and claims.
func tokenParts(tb testing.TB, token string) (header, claims map[string]any) {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			tb.Fatal(err)
		}
	}
	return header, claims
}

func TestIssuerRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ring, _ := newTestRing(t, "k-2031-03")
	iss := newTestIssuer(t, ring, clock.Now)
	v := ringVerifier(t, ring, clock.Now)

	tests := []struct {
		name       string
		claims     AccessClaims
		want       Principal
		wantClaims map[string]any // besides iss, aud, iat, exp, jti
	}{
		{
			name: "every claim",
			claims: AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleOwner, Roles: []string{"platform_admin", RoleOwner},
				AAL: AAL2, AMR: []string{"pwd", "otp"}, SessionID: "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"},
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{RoleOwner, "platform_admin"},
				SessionID: "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", AAL: AAL2},
			wantClaims: map[string]any{"sub": testUser, "tenant_id": testTenant, "role": RoleOwner, "roles": []any{"platform_admin"},
				"aal": AAL2, "amr": []any{"pwd", "otp"}, "session_id": "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"},
		},
		{
			name:       "least: no roles beyond role, aal defaults to aal1",
			claims:     AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleMember, Roles: []string{RoleMember}},
			want:       Principal{TenantID: testTenant, UserID: testUser, Roles: []string{RoleMember}, AAL: AAL1},
			wantClaims: map[string]any{"sub": testUser, "tenant_id": testTenant, "role": RoleMember, "aal": AAL1},
		},
		{
			name:       "upper-case UUIDs are written canonical",
			claims:     AccessClaims{Subject: strings.ToUpper(testUser), TenantID: strings.ToUpper(testTenant)},
			want:       Principal{TenantID: testTenant, UserID: testUser, AAL: AAL1},
			wantClaims: map[string]any{"sub": testUser, "tenant_id": testTenant, "aal": AAL1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, exp, err := iss.Issue(context.Background(), tt.claims)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if want := clock.Now().Add(DefaultAccessTTL); !exp.Equal(want) {
				t.Errorf("expiresAt = %s; want %s", exp, want)
			}
			header, claims := tokenParts(t, token)
			if diff := cmp.Diff(map[string]any{"alg": "ES256", "kid": "k-2031-03", "typ": "JWT"}, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			jti, _ := claims["jti"].(string)
			if len(jti) < 16 {
				t.Errorf("jti %q: want a random id", claims["jti"])
			}
			want := map[string]any{"iss": testIssuer, "aud": testAudience, "jti": jti,
				"iat": float64(clock.Now().Unix()), "exp": float64(exp.Unix())}
			for k, v := range tt.wantClaims {
				want[k] = v
			}
			if diff := cmp.Diff(want, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			got, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("distinct jti", func(t *testing.T) {
		t.Parallel()
		c := AccessClaims{Subject: testUser, TenantID: testTenant}
		a, _, err := iss.Issue(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := iss.Issue(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		_, ca := tokenParts(t, a)
		_, cb := tokenParts(t, b)
		if ca["jti"] == cb["jti"] {
			t.Errorf("two tokens share the jti %v", ca["jti"])
		}
	})

	t.Run("expires after the TTL", func(t *testing.T) {
		clock := newFakeClock()
		iss := newTestIssuer(t, ring, clock.Now)
		v := ringVerifier(t, ring, clock.Now)
		token, _, err := iss.Issue(context.Background(), AccessClaims{Subject: testUser, TenantID: testTenant})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(DefaultAccessTTL + testLeeway + time.Second)
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify after the TTL = %v; want ErrInvalidToken", err)
		}
	})
}

func TestIssueRefusesBadClaims(t *testing.T) {
	t.Parallel()
	ring, _ := newTestRing(t, "k")
	iss := newTestIssuer(t, ring, time.Now)
	ok := AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleMember}
	tests := []struct {
		name string
		edit func(*AccessClaims)
	}{
		{"subject not a UUID", func(c *AccessClaims) { c.Subject = "alice" }},
		{"no subject", func(c *AccessClaims) { c.Subject = "" }},
		{"tenant not a UUID", func(c *AccessClaims) { c.TenantID = "acme" }},
		{"no tenant", func(c *AccessClaims) { c.TenantID = "" }},
		{"unknown aal", func(c *AccessClaims) { c.AAL = "aal3" }},
		{"empty extra role", func(c *AccessClaims) { c.Roles = []string{""} }},
		{"empty amr", func(c *AccessClaims) { c.AMR = []string{"pwd", " "} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.edit(&c)
			if tok, _, err := iss.Issue(context.Background(), c); err == nil {
				t.Errorf("Issue = %q, nil; want an error", tok)
			}
		})
	}
}

func TestNewIssuer(t *testing.T) {
	t.Parallel()
	ring, _ := newTestRing(t, "k")
	tests := []struct {
		name        string
		ring        *KeyRing
		issuer, aud string
		ttl         time.Duration
		wantTTL     time.Duration
		wantErr     bool
	}{
		{name: "default TTL", ring: ring, issuer: testIssuer, aud: testAudience, wantTTL: DefaultAccessTTL},
		{name: "explicit TTL", ring: ring, issuer: testIssuer, aud: testAudience, ttl: 5 * time.Minute, wantTTL: 5 * time.Minute},
		{name: "no ring", issuer: testIssuer, aud: testAudience, wantErr: true},
		{name: "no issuer", ring: ring, aud: testAudience, wantErr: true},
		{name: "no audience", ring: ring, issuer: testIssuer, wantErr: true},
		{name: "negative TTL", ring: ring, issuer: testIssuer, aud: testAudience, ttl: -time.Minute, wantErr: true},
		{name: "TTL above the maximum", ring: ring, issuer: testIssuer, aud: testAudience, ttl: MaxAccessTTL + time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewIssuer(tt.ring, tt.issuer, tt.aud, tt.ttl)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NewIssuer = %+v, nil; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewIssuer: %v", err)
			}
			if got.TTL() != tt.wantTTL {
				t.Errorf("TTL = %s; want %s", got.TTL(), tt.wantTTL)
			}
		})
	}
}

// Rotation: add a key (published, not yet signing), switch the active kid, retire the old key to its public
// half, then drop it. Tokens of the old key verify until the key leaves the ring.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ctx := context.Background()
	oldKey, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	oldSK, newSK := SigningKey{KID: "old", Key: oldKey}, SigningKey{KID: "new", Key: newKey}
	ring := func(active string, keys []SigningKey, retired ...VerifyingKey) *KeyRing {
		t.Helper()
		r, err := NewKeyRing(active, keys, retired)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	claims := AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleMember}
	issue := func(r *KeyRing) string {
		t.Helper()
		tok, _, err := newTestIssuer(t, r, clock.Now).Issue(ctx, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	before := ring("", []SigningKey{oldSK})
	oldToken := issue(before)
	published := ring("old", []SigningKey{oldSK, newSK})
	if h := mustHeader(t, issue(published)); h["kid"] != "old" {
		t.Errorf("after adding the new key without switching, tokens carry kid %v; want old", h["kid"])
	}
	switched := ring("new", []SigningKey{oldSK, newSK})
	newToken := issue(switched)
	retired := ring("", []SigningKey{newSK}, VerifyingKey{KID: "old", Key: &oldKey.PublicKey})
	dropped := ring("", []SigningKey{newSK})

	tests := []struct {
		name    string
		ring    *KeyRing
		token   string
		wantErr bool
	}{
		{"old token, old ring", before, oldToken, false},
		{"old token, new key published", published, oldToken, false},
		{"old token, new key active", switched, oldToken, false},
		{"new token, new key active", switched, newToken, false},
		{"old token, old key retired to its public half", retired, oldToken, false},
		{"new token, old key retired", retired, newToken, false},
		{"old token, old key dropped", dropped, oldToken, true},
		{"new token, old key dropped", dropped, newToken, false},
		{"new token, ring before the new key", before, newToken, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ringVerifier(t, tt.ring, clock.Now).Verify(ctx, tt.token)
			switch {
			case tt.wantErr && !errors.Is(err, ErrInvalidToken):
				t.Errorf("Verify = %v; want ErrInvalidToken", err)
			case !tt.wantErr && err != nil:
				t.Errorf("Verify: %v", err)
			}
		})
	}
	if diff := cmp.Diff([]string{"new", "old"}, switched.KIDs()); diff != "" {
		t.Errorf("KIDs after the switch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"new", "old"}, retired.KIDs()); diff != "" {
		t.Errorf("KIDs after retiring (-want +got):\n%s", diff)
	}
}

func mustHeader(tb testing.TB, token string) map[string]any {
	tb.Helper()
	h, _ := tokenParts(tb, token)
	return h
}

func BenchmarkIssue(b *testing.B) {
	ring, _ := newTestRing(b, "k")
	iss := newTestIssuer(b, ring, time.Now)
	c := AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleMember, AMR: []string{"pwd"}, SessionID: "s"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
