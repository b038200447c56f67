package auth

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

func TestFromGatewayClaims(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	// base mimics what an HTTP API JWT authorizer hands over for a Supabase token: every value a string.
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"iss": testIssuer, "aud": testAudience, "sub": testUser,
			"iat": unix(now), "exp": unix(now.Add(time.Hour)),
		}
		for k, v := range extra {
			if v == "<delete>" {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	admin := Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"admin", "authenticated"}, AAL: "aal1"}

	tests := []struct {
		name        string
		tenantClaim string
		claims      map[string]string
		want        Principal
		wantErr     error
	}{
		{
			name:   "flat tenant_id and role",
			claims: base(map[string]string{"tenant_id": testTenant, "role": "member"}),
			want:   wantPrincipal(),
		},
		{
			name:        "app_metadata as JSON",
			tenantClaim: "app_metadata.tenant_id",
			claims: base(map[string]string{"role": "authenticated",
				"app_metadata": `{"provider":"email","providers":["email"],"role":"admin","tenant_id":"` + testTenant + `"}`}),
			want: admin,
		},
		{
			name:        "app_metadata as {k=v, ...}",
			tenantClaim: "app_metadata.tenant_id",
			claims: base(map[string]string{"role": "authenticated",
				"app_metadata": "{provider=email, providers=[email, phone], tenant_id=" + testTenant + ", role=admin}"}),
			want: admin,
		},
		{
			name:        "app_metadata as map[k:v ...]",
			tenantClaim: "app_metadata.tenant_id",
			claims: base(map[string]string{"role": "authenticated",
				"app_metadata": "map[full_name:Ada Lovelace provider:email providers:[email phone] role:admin tenant_id:" + testTenant + "]"}),
			want: admin,
		},
		{
			name:        "app_metadata roles as a Go-style array inside a Go-style map",
			tenantClaim: "app_metadata.tenant_id",
			claims: base(map[string]string{
				"app_metadata": "map[roles:[owner admin] tenant_id:" + testTenant + "]"}),
			want: Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"owner", "admin"}, AAL: "aal1"},
		},
		{
			name:   "roles as a JSON array",
			claims: base(map[string]string{"tenant_id": testTenant, "roles": `["admin","member"]`}),
			want:   Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"admin", "member"}, AAL: "aal1"},
		},
		{
			name:   "roles as [a b]",
			claims: base(map[string]string{"tenant_id": testTenant, "roles": "[admin member]"}),
			want:   Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"admin", "member"}, AAL: "aal1"},
		},
		{
			name:   "roles as [a, b]",
			claims: base(map[string]string{"tenant_id": testTenant, "roles": "[admin, member]"}),
			want:   Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"admin", "member"}, AAL: "aal1"},
		},
		{
			name:        "Cognito custom:tenant_id with session and aal",
			tenantClaim: "custom:tenant_id",
			claims:      base(map[string]string{"custom:tenant_id": testTenant, "role": "member", "sid": "s-9", "aal": "aal2"}),
			want:        Principal{TenantID: testTenant, UserID: testUser, Roles: []string{"member"}, SessionID: "s-9", AAL: "aal2"},
		},
		{
			name:   "no exp is accepted (the authorizer checked it)",
			claims: base(map[string]string{"tenant_id": testTenant, "role": "member", "exp": "<delete>"}),
			want:   wantPrincipal(),
		},
		{
			name:   "expired within leeway",
			claims: base(map[string]string{"tenant_id": testTenant, "role": "member", "exp": unix(now.Add(-10 * time.Second))}),
			want:   wantPrincipal(),
		},
		{
			name:    "expired beyond leeway",
			claims:  base(map[string]string{"tenant_id": testTenant, "exp": unix(now.Add(-time.Minute))}),
			wantErr: ErrInvalidToken,
		},
		{
			name:    "exp not a number",
			claims:  base(map[string]string{"tenant_id": testTenant, "exp": "tomorrow"}),
			wantErr: ErrInvalidToken,
		},
		{
			name:    "missing sub",
			claims:  base(map[string]string{"tenant_id": testTenant, "sub": "<delete>"}),
			wantErr: ErrInvalidToken,
		},
		{
			name:    "missing tenant",
			claims:  base(nil),
			wantErr: ErrNoTenant,
		},
		{
			name:    "tenant not a UUID",
			claims:  base(map[string]string{"tenant_id": "acme"}),
			wantErr: ErrNoTenant,
		},
		{
			name:        "app_metadata without the tenant",
			tenantClaim: "app_metadata.tenant_id",
			claims:      base(map[string]string{"app_metadata": "map[provider:email]"}),
			wantErr:     ErrNoTenant,
		},
		{
			name:        "app_metadata that is not an object",
			tenantClaim: "app_metadata.tenant_id",
			claims:      base(map[string]string{"app_metadata": "email"}),
			wantErr:     ErrNoTenant,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, config.JWT{TrustGatewayClaims: true, TenantClaim: tt.tenantClaim}, clock.Now)
			got, err := v.FromGatewayClaims(tt.claims)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("FromGatewayClaims = %+v, %v; want an error wrapping %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromGatewayClaims: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromGatewayClaimsRefusedWhenNotTrusted(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newTestVerifier(t, config.JWT{HS256Secret: testSecret}, clock.Now)
	_, err := v.FromGatewayClaims(map[string]string{"sub": testUser, "tenant_id": testTenant})
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("FromGatewayClaims on a verifier not trusting the gateway = %v; want ErrInvalidToken", err)
	}
}

func TestDecodeStringified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"plain", "plain"},
		{"", ""},
		{`{"a":"b","n":[1]}`, map[string]any{"a": "b", "n": []any{1.0}}},
		{"{a=b, c={d=e}, f=[g, h]}", map[string]any{"a": "b", "c": map[string]any{"d": "e"}, "f": []any{"g", "h"}}},
		{"{name=Lovelace, Ada, a=b}", map[string]any{"name": "Lovelace, Ada", "a": "b"}},
		{"map[a:b c:map[d:e] f:[g h]]", map[string]any{"a": "b", "c": map[string]any{"d": "e"}, "f": []any{"g", "h"}}},
		{"map[]", map[string]any{}},
		{"[]", []any{}},
		{`["x","y"]`, []any{"x", "y"}},
		{"[x y]", []any{"x", "y"}},
		{"[x, y]", []any{"x", "y"}},
		{"{not a map}", "{not a map}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, decodeStringified(tt.in)); diff != "" {
				t.Errorf("decodeStringified(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
