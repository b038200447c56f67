package catalog

import (
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/tenant"
)

// Tenant serves the caller's organisation: GET/PATCH /tenant, its members (GET /tenant/members,
// PATCH/DELETE /tenant/members/{user_id}) and its invites (GET/POST /tenant/invites,
// DELETE /tenant/invites/{id}). Role changes and removals emit tenant.member_role_changed and
// tenant.member_removed through the outbox, which the outbox relay publishes (see OutboxRelay).
//
// POST /tenant/invites takes no Idempotency-Key: its response carries the invite's one-time code, and an
// idempotency record would keep that response, code included, for replay.
func Tenant(d *platform.Deps) []platform.Route {
	s := postgres.NewTenantStore(d.DB)
	read, write := readPolicy("tenant"), writePolicy("tenant")
	return []platform.Route{
		{Pattern: "GET /tenant", Handler: tenant.Get(s), Policy: read},
		{Pattern: "PATCH /tenant", Handler: tenant.Rename(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /tenant/members", Handler: tenant.Members(s, d.Cursors), Policy: read},
		{Pattern: "PATCH /tenant/members/{user_id}", Handler: tenant.ChangeRole(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "DELETE /tenant/members/{user_id}", Handler: tenant.RemoveMember(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /tenant/invites", Handler: tenant.Invites(s, d.Cursors), Policy: read},
		{Pattern: "POST /tenant/invites", Handler: tenant.CreateInvite(s, d.BlindIndex), Policy: write, Idempotency: platform.IdempotencyNone},
		{Pattern: "DELETE /tenant/invites/{id}", Handler: tenant.RevokeInvite(s), Policy: write, Idempotency: platform.IdempotencyOptional},
	}
}
