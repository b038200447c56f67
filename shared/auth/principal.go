// Package auth holds who is calling: the Principal taken from a verified token, the context that carries
// it, and the verifier that turns a bearer token (or API Gateway authorizer claims) into one.
package auth

import (
	"context"
	"slices"
)

// Roles a member can hold inside a tenant, strongest first.
const (
	RoleOwner     = "owner"
	RoleAdmin     = "admin"
	RoleModerator = "moderator"
	RoleMember    = "member"
)

// Principal is the authenticated caller. TenantID and UserID are UUID strings; a Principal taken from a
// request that passed authentication always has both.
type Principal struct {
	TenantID  string
	UserID    string
	Roles     []string
	SessionID string
	// AAL is the authenticator assurance level, "aal1" or "aal2".
	AAL string
}

// HasRole reports whether the principal holds any of the given roles.
func (p Principal) HasRole(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// CanManageTenant reports whether the principal may edit any resource of its tenant (owners and admins).
func (p Principal) CanManageTenant() bool { return p.HasRole(RoleOwner, RoleAdmin) }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal stored by WithPrincipal; ok is false for anonymous requests.
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}
