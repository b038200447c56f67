package localrun_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/localrun"
)

// jwtClaims decodes a token's payload (the server verified it; the test only reads it).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A member of two organisations switches with a membership check: a new session in the other tenant,
// with its role there; a tenant it does not belong to is refused. The platform-admin flag, set by an
// operator in the database, reaches the token as the platform_admin role.
func TestAuthSwitchTenantAndPlatformAdmin(t *testing.T) {
	t.Parallel()
	env := seeded(t)
	c := authServerOn(t, env)
	// Sunrise's member also joins Northwind as a moderator, and is made a platform admin.
	if _, err := env.DB.Owner.Exec(context.Background(), `
INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'moderator')`, localrun.TenantB, localrun.MemberA); err != nil {
		t.Fatal(err)
	}
	if _, err := env.DB.Owner.Exec(context.Background(), `UPDATE users SET platform_admin = true WHERE id = $1`, localrun.MemberA); err != nil {
		t.Fatal(err)
	}
	login := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "member@sunrise.test",
		"password": localrun.DevPassword}).want(t, 200, "login")
	if tenants, _ := login.Body["tenants"].([]any); len(tenants) != 2 {
		t.Errorf("login lists tenants %v, want both", login.Body["tenants"])
	}
	claims := jwtClaims(t, login.str("access_token"))
	roles, _ := claims["roles"].([]any)
	if claims["tenant_id"] != localrun.TenantA || claims["role"] != "member" || !slices.Contains(roles, any("platform_admin")) ||
		claims["session_id"] != login.str("session_id") || claims["aal"] != "aal1" || claims["jti"] == nil {
		t.Errorf("access token claims: %v", claims)
	}

	sw := c.do("POST", "/auth/switch-tenant", login.str("access_token"), map[string]any{"tenant_id": localrun.TenantB}).want(t, 200, "switch")
	if sw.str("tenant_id") != localrun.TenantB || sw.str("role") != "moderator" || sw.str("session_id") == login.str("session_id") {
		t.Fatalf("switch: %s", sw.Raw)
	}
	list := c.do("GET", "/horses", sw.str("access_token"), nil).want(t, 200, "Northwind's horses")
	if !strings.Contains(list.Raw, "Fjord Frost") || strings.Contains(list.Raw, "Midnight Star") {
		t.Errorf("horses after the switch: %s", list.Raw)
	}
	// Tenant switching needs a membership: Sunrise's owner is not in Northwind.
	owner := c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "owner@sunrise.test",
		"password": localrun.DevPassword}).want(t, 200, "owner login")
	c.do("POST", "/auth/switch-tenant", owner.str("access_token"), map[string]any{"tenant_id": localrun.TenantB}).want(t, 403, "switch without membership")
	// A password grant straight into a tenant the user is not in is refused too.
	c.do("POST", "/auth/token", "", map[string]any{"grant_type": "password", "email": "owner@sunrise.test",
		"password": localrun.DevPassword, "tenant_id": localrun.TenantB}).want(t, 403, "login into another tenant")
}
