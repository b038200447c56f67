package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

const (
	supabaseIssuer    = "https://abcdefgh.supabase.co/auth/v1"
	cognitoTestIssuer = "https://cognito-idp.eu-north-1.amazonaws.com/eu-north-1_Ab12Cd34E"
	cognitoWebClient  = "7d3r4nd0mw3bcl13nt"
	cognitoIOSClient  = "5i05cl13nt1d"
)

// The tokens our Issuer signs, refused for each reason of the issue's list, each with its specific error.
func TestIssuedTokensRefused(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ctx := context.Background()
	ring, keys := newTestRing(t, "k1")
	v := ringVerifier(t, ring, clock.Now)
	iss := newTestIssuer(t, ring, clock.Now)
	good, _, err := iss.Issue(ctx, AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	ringKey := testKey{kid: "k1", method: jwt.SigningMethodES256, sign: keys[0].Key, public: &keys[0].Key.PublicKey}
	stranger := newTestKey(t, "ES256", "k2")
	sign := func(k testKey, edit func(jwt.MapClaims)) string {
		return signToken(t, k, validClaims(clock.Now(), edit))
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(clock.Now(), nil))
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	// The HMAC "key" an attacker has: the published public key in every form a confused verifier might use.
	point, err := keys[0].Key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := ring.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	pemText := testKey{public: &keys[0].Key.PublicKey}.publicPEM(t)

	tests := []struct {
		name    string
		token   string
		wantErr error // besides ErrInvalidToken, unless it is ErrNoTenant
	}{
		{"alg none", none, jwt.ErrTokenSignatureInvalid},
		{"HS256 signed with the public key PEM", sign(hmacKey(pemText).withKID("k1"), nil), jwt.ErrTokenUnverifiable},
		{"HS256 signed with the public EC point", sign(hmacKey(string(point)).withKID("k1"), nil), jwt.ErrTokenUnverifiable},
		{"HS256 signed with the JWKS document, no kid", sign(hmacKey(string(jwks)), nil), jwt.ErrTokenUnverifiable},
		{"wrong iss", sign(ringKey, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), jwt.ErrTokenInvalidIssuer},
		{"wrong aud", sign(ringKey, func(c jwt.MapClaims) { c["aud"] = "another-api" }), jwt.ErrTokenInvalidAudience},
		{"expired", sign(ringKey, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = clock.Now().Add(-time.Hour).Unix(), clock.Now().Add(-testLeeway-time.Second).Unix()
		}), jwt.ErrTokenExpired},
		{"not yet valid", sign(ringKey, func(c jwt.MapClaims) { c["nbf"] = clock.Now().Add(testLeeway + time.Minute).Unix() }), jwt.ErrTokenNotValidYet},
		{"issued in the future", sign(ringKey, func(c jwt.MapClaims) { c["iat"] = clock.Now().Add(testLeeway + time.Minute).Unix() }), jwt.ErrTokenUsedBeforeIssued},
		{"unknown kid", sign(stranger, nil), jwt.ErrTokenUnverifiable},
		{"known kid, other key", sign(stranger.withKID("k1"), nil), jwt.ErrTokenSignatureInvalid},
		{"tampered payload", tamperPayload(t, good, "role", RoleOwner), jwt.ErrTokenSignatureInvalid},
		{"tampered tenant", tamperPayload(t, good, "tenant_id", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"), jwt.ErrTokenSignatureInvalid},
		{"tampered header alg", retypeHeader(t, good, "ES384"), jwt.ErrTokenUnverifiable},
		{"missing tenant", sign(ringKey, func(c jwt.MapClaims) { delete(c, "tenant_id") }), ErrNoTenant},
		{"tenant not a UUID", sign(ringKey, func(c jwt.MapClaims) { c["tenant_id"] = "acme" }), ErrNoTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(ctx, tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %+v, %v; want an error wrapping %v", p, err, tt.wantErr)
			}
			if wantInvalid := tt.wantErr != ErrNoTenant; errors.Is(err, ErrInvalidToken) != wantInvalid {
				t.Errorf("Verify error %v: wraps ErrInvalidToken = %v, want %v", err, !wantInvalid, wantInvalid)
			}
		})
	}
	if _, err := v.Verify(ctx, good); err != nil {
		t.Errorf("Verify(good): %v", err)
	}
}

// retypeHeader rewrites a token's header alg, keeping payload and signature.
func retypeHeader(tb testing.TB, token, alg string) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString(mustJSON(tb, map[string]string{"alg": alg, "kid": "k1", "typ": "JWT"}))
	return strings.Join(parts, ".")
}

// One verifier trusting our ring (primary), Supabase with its legacy secret and its asymmetric JWKS, and a
// Cognito pool: the frontend moves from either to ours without a flag day.
func TestVerifierTrustsSeveralIssuers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	ctx := context.Background()
	ring, keys := newTestRing(t, "corral-1")
	ringKey := testKey{kid: "corral-1", method: jwt.SigningMethodES256, sign: keys[0].Key, public: &keys[0].Key.PublicKey}
	sbHS := hmacKey(testSecret)
	sbES := newTestKey(t, "ES256", "sb-es-1")
	sbSrv := newJWKSServer(t, jwksDoc(t, sbES))
	cog := newTestKey(t, "RS256", "cog-rs-1")
	cogSrv := newJWKSServer(t, jwksDoc(t, cog))
	cogStranger := newTestKey(t, "RS256", "cog-rs-2")

	trusted := string(mustJSON(t, []any{
		map[string]any{"kind": "supabase", "issuer": supabaseIssuer, "hs256_secret": testSecret, "jwks_url": sbSrv.URL},
		map[string]any{"kind": "cognito", "issuer": cognitoTestIssuer, "audience": []string{cognitoWebClient, cognitoIOSClient},
			"jwks_url": cogSrv.URL, "role_claim": "cognito:groups"},
	}))
	v, err := newVerifier(config.JWT{Issuer: testIssuer, Audience: testAudience, Leeway: testLeeway, TrustedIssuers: trusted},
		nil, verifierOptions{now: clock.Now, cacheSize: defaultCacheSize, ring: ring})
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := newTestIssuer(t, ring, clock.Now).Issue(ctx, AccessClaims{Subject: testUser, TenantID: testTenant, Role: RoleAdmin, AAL: AAL2})
	if err != nil {
		t.Fatal(err)
	}

	supabase := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		return validClaims(now, func(c jwt.MapClaims) {
			delete(c, "tenant_id")
			c["iss"], c["aud"], c["role"] = supabaseIssuer, "authenticated", "authenticated"
			c["app_metadata"] = map[string]any{"provider": "email", "tenant_id": testTenant, "role": "owner"}
			c["aal"], c["session_id"] = "aal1", "sb-session"
			c["amr"] = []any{map[string]any{"method": "password", "timestamp": now.Unix()}}
			if edit != nil {
				edit(c)
			}
		})
	}
	cognito := func(use string, edit func(jwt.MapClaims)) jwt.MapClaims {
		return validClaims(now, func(c jwt.MapClaims) {
			delete(c, "tenant_id")
			delete(c, "role")
			c["iss"], c["token_use"], c["custom:tenant_id"] = cognitoTestIssuer, use, testTenant
			c["cognito:groups"] = []any{"moderator"}
			if use == "access" {
				delete(c, "aud")
				c["client_id"], c["scope"], c["username"] = cognitoWebClient, "aws.cognito.signin.user.admin", "ada"
			} else {
				c["aud"], c["cognito:username"] = cognitoIOSClient, "ada"
			}
			if edit != nil {
				edit(c)
			}
		})
	}
	sbWant := Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"owner", "authenticated"}, SessionID: "sb-session", AAL: "aal1"}
	cogWant := Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"moderator"}, AAL: "aal1"}

	tests := []struct {
		name    string
		token   string
		want    Principal
		wantErr error
	}{
		{name: "ours, through the ring in process", token: own,
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{RoleAdmin}, AAL: AAL2}},
		{name: "Supabase HS256", token: signToken(t, sbHS, supabase(nil)), want: sbWant},
		{name: "Supabase HS256 with a kid", token: signToken(t, sbHS.withKID("legacy"), supabase(nil)), want: sbWant},
		{name: "Supabase ES256 from its JWKS", token: signToken(t, sbES, supabase(nil)), want: sbWant},
		{name: "Cognito access token", token: signToken(t, cog, cognito("access", nil)), want: cogWant},
		{name: "Cognito id token", token: signToken(t, cog, cognito("id", nil)), want: cogWant},
		{name: "Cognito access token of the second app client", token: signToken(t, cog, cognito("access", func(c jwt.MapClaims) { c["client_id"] = cognitoIOSClient })), want: cogWant},

		{name: "untrusted issuer", token: signToken(t, ringKey, validClaims(now, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), wantErr: ErrInvalidToken},
		{name: "no iss", token: signToken(t, ringKey, validClaims(now, func(c jwt.MapClaims) { delete(c, "iss") })), wantErr: ErrInvalidToken},
		{name: "iss not a string", token: signToken(t, ringKey, validClaims(now, func(c jwt.MapClaims) { c["iss"] = 7 })), wantErr: ErrInvalidToken},
		{name: "not a JWS", token: "abc.def", wantErr: ErrInvalidToken},
		{name: "our iss signed with Supabase's secret", token: signToken(t, sbHS, validClaims(now, nil)), wantErr: jwt.ErrTokenUnverifiable},
		{name: "Supabase iss signed with our key", token: signToken(t, ringKey, supabase(nil)), wantErr: jwt.ErrTokenUnverifiable},
		{name: "Cognito iss signed with Supabase's JWKS key", token: signToken(t, sbES, cognito("access", nil)), wantErr: jwt.ErrTokenUnverifiable},
		{name: "Supabase wrong audience", token: signToken(t, sbHS, supabase(func(c jwt.MapClaims) { c["aud"] = "anon" })), wantErr: jwt.ErrTokenInvalidAudience},
		{name: "Supabase without app_metadata tenant", token: signToken(t, sbHS, supabase(func(c jwt.MapClaims) {
			c["app_metadata"] = map[string]any{"provider": "email"}
			c["tenant_id"] = testTenant // top level is not Supabase's tenant claim
		})), wantErr: ErrNoTenant},
		{name: "Supabase expired", token: signToken(t, sbES, supabase(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})), wantErr: jwt.ErrTokenExpired},
		{name: "Cognito access token of another app client", token: signToken(t, cog, cognito("access", func(c jwt.MapClaims) { c["client_id"] = "other" })), wantErr: ErrInvalidToken},
		{name: "Cognito id token for another app client", token: signToken(t, cog, cognito("id", func(c jwt.MapClaims) { c["aud"] = "other" })), wantErr: ErrInvalidToken},
		{name: "Cognito id token carrying an accepted client_id but another aud", token: signToken(t, cog, cognito("id", func(c jwt.MapClaims) {
			c["aud"], c["client_id"] = "other", cognitoWebClient
		})), wantErr: ErrInvalidToken},
		{name: "Cognito refresh-like token_use", token: signToken(t, cog, cognito("refresh", nil)), wantErr: ErrInvalidToken},
		{name: "Cognito without token_use", token: signToken(t, cog, cognito("access", func(c jwt.MapClaims) { delete(c, "token_use") })), wantErr: ErrInvalidToken},
		{name: "Cognito unknown key", token: signToken(t, cogStranger, cognito("access", nil)), wantErr: jwt.ErrTokenUnverifiable},
		{name: "Cognito without custom:tenant_id", token: signToken(t, cog, cognito("access", func(c jwt.MapClaims) { delete(c, "custom:tenant_id") })), wantErr: ErrNoTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(ctx, tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %+v, %v; want an error wrapping %v", got, err, tt.wantErr)
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

// Supabase and Cognito need only their issuer: the JWKS URL, audience and tenant claim follow from the kind.
func TestTrustedIssuerDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        TrustedIssuer
		wantIss   string
		wantJWKS  string // "" when none
		wantClaim string
		wantKind  string
	}{
		{name: "Supabase asymmetric", in: TrustedIssuer{Kind: "supabase", Issuer: supabaseIssuer},
			wantIss: supabaseIssuer, wantJWKS: supabaseIssuer + "/.well-known/jwks.json", wantClaim: "app_metadata.tenant_id", wantKind: KindSupabase},
		{name: "Supabase legacy secret only", in: TrustedIssuer{Kind: "Supabase", Issuer: supabaseIssuer, HS256Secret: testSecret},
			wantIss: supabaseIssuer, wantClaim: "app_metadata.tenant_id", wantKind: KindSupabase},
		{name: "Cognito from region and pool", in: TrustedIssuer{Kind: "cognito", Region: "eu-north-1", UserPoolID: "eu-north-1_Ab12Cd34E", Audience: Audiences{"c"}},
			wantIss: cognitoTestIssuer, wantJWKS: cognitoTestIssuer + "/.well-known/jwks.json", wantClaim: "custom:tenant_id", wantKind: KindCognito},
		{name: "Corral by default", in: TrustedIssuer{Issuer: "https://other.corral.test", Audience: Audiences{"corral"}, JWKSURL: "https://other.corral.test/.well-known/jwks.json"},
			wantIss: "https://other.corral.test", wantJWKS: "https://other.corral.test/.well-known/jwks.json", wantClaim: "tenant_id", wantKind: KindCorral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ti, err := newTrustedIssuer(tt.in, nil, nil, testLeeway, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			jwks := ""
			if ti.jwks != nil {
				jwks = ti.jwks.url
			}
			got := []string{ti.iss, jwks, ti.mapper.tenantClaim, ti.kind}
			if diff := cmp.Diff([]string{tt.wantIss, tt.wantJWKS, tt.wantClaim, tt.wantKind}, got); diff != "" {
				t.Errorf("iss, JWKS, tenant claim, kind (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewVerifierRejectsBadTrustedIssuers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted string
		wantErr string
	}{
		{"not JSON", `{`, "JWT_TRUSTED_ISSUERS"},
		{"an object, not an array", `{"issuer":"x"}`, "JWT_TRUSTED_ISSUERS"},
		{"unknown member", `[{"issuer":"https://x.test","audience":"a","hs256_secret":"` + testSecret + `","tenant":"t"}]`, "tenant"},
		{"audience a number", `[{"issuer":"https://x.test","audience":7,"hs256_secret":"` + testSecret + `"}]`, "audience"},
		{"unknown kind", `[{"kind":"auth0","issuer":"https://x.test","audience":"a","hs256_secret":"` + testSecret + `"}]`, "auth0"},
		{"no key source", `[{"issuer":"https://x.test","audience":"a"}]`, "no key source"},
		{"no audience", `[{"issuer":"https://x.test","hs256_secret":"` + testSecret + `"}]`, "audience"},
		{"short secret", `[{"kind":"supabase","issuer":"https://x.test","hs256_secret":"short"}]`, "32 bytes"},
		{"Cognito issuer malformed", `[{"kind":"cognito","issuer":"https://evil.test/pool","audience":"c"}]`, "cognito"},
		{"Cognito without app clients", `[{"kind":"cognito","region":"eu-north-1","user_pool_id":"eu-north-1_Ab12Cd34E"}]`, "audience"},
		{"Cognito with a shared secret", `[{"kind":"cognito","region":"eu-north-1","user_pool_id":"eu-north-1_Ab12Cd34E","audience":"c","hs256_secret":"` + testSecret + `"}]`, "secret"},
		{"JWKS URL not http", `[{"issuer":"https://x.test","audience":"a","jwks_url":"file:///jwks.json"}]`, "http"},
		{"the primary issuer again", `[{"issuer":"` + testIssuer + `","audience":"a","hs256_secret":"` + testSecret + `"}]`, "twice"},
		{"bad role claim", `[{"issuer":"https://x.test","audience":"a","hs256_secret":"` + testSecret + `","role_claim":"a..b"}]`, "role claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(config.JWT{Issuer: testIssuer, Audience: testAudience, HS256Secret: testSecret, TrustedIssuers: tt.trusted}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewVerifier = %v, %v; want an error containing %q", v, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
