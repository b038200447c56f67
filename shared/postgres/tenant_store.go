package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/tenant"
)

// Events written to the outbox (queue "webhooks") when a membership changes; the webhook dispatcher fans
// them out to the tenant's endpoints subscribed to them.
const (
	MemberRoleChangedEvent = "tenant.member_role_changed"
	MemberRemovedEvent     = "tenant.member_removed"
)

// Kinds of the audit events the tenant store writes, in the transaction of the change.
const (
	AuditTenantRenamed     = "tenant.renamed"
	AuditMemberRoleChanged = "tenant.member_role_changed"
	AuditMemberRemoved     = "tenant.member_removed"
	AuditMemberLeft        = "tenant.member_left"
	AuditInviteCreated     = "tenant.invite_created"
	AuditInviteRevoked     = "tenant.invite_revoked"
)

// TenantStore keeps the caller's tenant, its memberships and its invites. Row-level security confines
// every statement to the principal's tenant.
//
// Every write first locks the tenant's row (FOR NO KEY UPDATE, which does not block the foreign-key checks
// of inserts elsewhere in the tenant) and only then reads the caller's role, the target's role and the
// number of owners, each in a statement of its own, so that it sees what the writes before it committed.
// Writes of one tenant are thereby serialised: two owners demoting each other at once cannot both succeed.
type TenantStore struct {
	db     *DB
	events EventPublisher
}

var _ tenant.Store = (*TenantStore)(nil)

// NewTenantStore returns a store on db.
func NewTenantStore(db *DB) *TenantStore { return &TenantStore{db: db} }

// WithEvents returns the store publishing its outbox events through p right after each commit.
func (s *TenantStore) WithEvents(p EventPublisher) *TenantStore {
	c := *s
	c.events = p
	return &c
}

// managers are the roles that may manage the tenant.
var managers = []string{auth.RoleOwner, auth.RoleAdmin}

// Get implements tenant.Store. The member count names its tenant, though row-level security would limit it
// to the tenant anyway: the policy alone (an OR with the auth flow's bypass) cannot use an index, so the
// count would read every tenant's memberships.
func (s *TenantStore) Get(ctx context.Context, p auth.Principal) (tenant.Tenant, error) {
	const q = `
SELECT t.id, t.name, t.slug, t.created_at, (SELECT count(*) FROM memberships c WHERE c.tenant_id = $1), m.role
FROM tenants t
LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = $2
WHERE t.id = $1`
	var (
		t    tenant.Tenant
		role *string
	)
	err := s.db.QueryRow(ctx, p, ReadOnly, q, []any{p.TenantID, p.UserID}, &t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.MemberCount, &role)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return t, tenant.ErrNotMember
	case err != nil:
		return t, fmt.Errorf("tenant store: get: %w", err)
	case role == nil:
		return t, tenant.ErrNotMember
	}
	t.Role = *role
	return t, nil
}

// Rename implements tenant.Store.
func (s *TenantStore) Rename(ctx context.Context, a tenant.Actor, name string) (tenant.Tenant, error) {
	const q = `
UPDATE tenants SET name = $2 WHERE id = $1
RETURNING id, name, slug, created_at, (SELECT count(*) FROM memberships c WHERE c.tenant_id = $1)`
	var t tenant.Tenant
	err := s.db.InTx(ctx, a.Principal, func(tx pgx.Tx) error {
		role, err := lockAndAuthorize(ctx, tx, a.Principal, managers...)
		if err != nil {
			return err
		}
		t.Role = role
		if err := tx.QueryRow(ctx, q, a.TenantID, name).Scan(&t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.MemberCount); err != nil {
			return fmt.Errorf("tenant store: rename: %w", err)
		}
		return recordAudit(ctx, tx, a, AuditTenantRenamed, map[string]any{"name": name})
	})
	if err != nil {
		return tenant.Tenant{}, err
	}
	return t, nil
}

// memberSelect reads a membership with its display name (the tenant profile's, else the account's).
const memberSelect = `
SELECT m.user_id, m.role, coalesce(pr.display_name, u.display_name, ''), m.created_at
FROM memberships m
LEFT JOIN profiles pr ON pr.tenant_id = m.tenant_id AND pr.user_id = m.user_id
LEFT JOIN users u ON u.id = m.user_id`

func memberDest(m *tenant.Member) []any {
	return []any{&m.UserID, &m.Role, &m.DisplayName, &m.JoinedAt}
}

// Members implements tenant.Store: one statement, which serves the page only when the caller is still a
// member; an empty page is told apart from a caller who is not by a second read. The tenant is named, as
// in Get, so the page reads the tenant's memberships only.
func (s *TenantStore) Members(ctx context.Context, p auth.Principal, q tenant.PageQuery) (tenant.MemberPage, error) {
	const list = memberSelect + `
WHERE m.tenant_id = $5 AND EXISTS (SELECT 1 FROM memberships c WHERE c.user_id = $1)
  AND ($2::timestamptz IS NULL OR (m.created_at, m.user_id) < ($2::timestamptz, $3::uuid))
ORDER BY m.created_at DESC, m.user_id DESC
LIMIT $4`
	args := []any{p.UserID, nil, nil, q.Limit + 1, p.TenantID}
	if q.After != nil {
		args[1], args[2] = q.After.CreatedAt, q.After.ID
	}
	var page tenant.MemberPage
	err := s.db.Query(ctx, p, ReadOnly, list, args, func(rows pgx.Rows) error {
		var m tenant.Member
		if err := rows.Scan(memberDest(&m)...); err != nil {
			return err
		}
		page.Members = append(page.Members, m)
		return nil
	})
	if err != nil {
		return tenant.MemberPage{}, fmt.Errorf("tenant store: members: %w", err)
	}
	if len(page.Members) == 0 {
		if _, err := s.Get(ctx, p); err != nil {
			return tenant.MemberPage{}, err
		}
	}
	if len(page.Members) > q.Limit {
		page.Members = page.Members[:q.Limit]
		last := page.Members[len(page.Members)-1]
		page.Next = &tenant.Position{CreatedAt: last.JoinedAt, ID: last.UserID}
	}
	return page, nil
}

// ChangeRole implements tenant.Store.
func (s *TenantStore) ChangeRole(ctx context.Context, a tenant.Actor, userID, role string) (tenant.Member, error) {
	const update = `
WITH m AS (UPDATE memberships SET role = $2 WHERE user_id = $1 RETURNING tenant_id, user_id, role, created_at)
SELECT m.user_id, m.role, coalesce(pr.display_name, u.display_name, ''), m.created_at
FROM m
LEFT JOIN profiles pr ON pr.tenant_id = m.tenant_id AND pr.user_id = m.user_id
LEFT JOIN users u ON u.id = m.user_id`
	var (
		m       tenant.Member
		eventID string
	)
	err := s.db.InTx(ctx, a.Principal, func(tx pgx.Tx) error {
		callerRole, err := lockAndAuthorize(ctx, tx, a.Principal, managers...)
		if err != nil {
			return err
		}
		current, err := memberRole(ctx, tx, userID)
		if err != nil {
			return err
		}
		if (current == auth.RoleOwner || role == auth.RoleOwner) && callerRole != auth.RoleOwner {
			return tenant.ErrOwnerOnly
		}
		if current == role {
			if err := tx.QueryRow(ctx, memberSelect+` WHERE m.user_id = $1`, userID).Scan(memberDest(&m)...); err != nil {
				return fmt.Errorf("tenant store: read member: %w", err)
			}
			return nil
		}
		if current == auth.RoleOwner {
			if err := requireAnotherOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, update, userID, role).Scan(memberDest(&m)...); err != nil {
			return fmt.Errorf("tenant store: change role: %w", err)
		}
		if err := revokeSessions(ctx, tx, a.TenantID, userID); err != nil {
			return err
		}
		detail := map[string]any{"user_id": userID, "from": current, "to": role}
		if err := recordAudit(ctx, tx, a, AuditMemberRoleChanged, detail); err != nil {
			return err
		}
		eventID, err = addEvent(ctx, tx, a, MemberRoleChangedEvent, detail)
		return err
	})
	if err != nil {
		return tenant.Member{}, err
	}
	s.publish(ctx, a.TenantID, eventID)
	return m, nil
}

// RemoveMember implements tenant.Store. The member's business memberships in the tenant go with it; the
// profile and anything the member created stay.
func (s *TenantStore) RemoveMember(ctx context.Context, a tenant.Actor, userID string) error {
	const (
		remove         = `DELETE FROM memberships WHERE user_id = $1`
		removeBusiness = `DELETE FROM business_members WHERE user_id = $1`
	)
	leaving := userID == a.UserID
	var eventID string
	err := s.db.InTx(ctx, a.Principal, func(tx pgx.Tx) error {
		allowed := managers
		if leaving {
			allowed = tenant.Roles()
		}
		callerRole, err := lockAndAuthorize(ctx, tx, a.Principal, allowed...)
		if err != nil {
			return err
		}
		current, err := memberRole(ctx, tx, userID)
		if err != nil {
			return err
		}
		if current == auth.RoleOwner {
			if !leaving && callerRole != auth.RoleOwner {
				return tenant.ErrOwnerOnly
			}
			if err := requireAnotherOwner(ctx, tx, a.TenantID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, remove, userID); err != nil {
			return fmt.Errorf("tenant store: remove member: %w", err)
		}
		if _, err := tx.Exec(ctx, removeBusiness, userID); err != nil {
			return fmt.Errorf("tenant store: remove business memberships: %w", err)
		}
		if err := revokeSessions(ctx, tx, a.TenantID, userID); err != nil {
			return err
		}
		kind, reason := AuditMemberRemoved, "removed"
		if leaving {
			kind, reason = AuditMemberLeft, "left"
		}
		if err := recordAudit(ctx, tx, a, kind, map[string]any{"user_id": userID, "role": current}); err != nil {
			return err
		}
		eventID, err = addEvent(ctx, tx, a, MemberRemovedEvent, map[string]any{"user_id": userID, "role": current, "reason": reason})
		return err
	})
	if err != nil {
		return err
	}
	s.publish(ctx, a.TenantID, eventID)
	return nil
}

// inviteColumns is every column of an Invite, in the order inviteDest reads them.
const inviteColumns = `id, role, email_bidx IS NOT NULL, created_by, created_at, expires_at`

func inviteDest(i *tenant.Invite) []any {
	return []any{&i.ID, &i.Role, &i.EmailRestricted, &i.CreatedBy, &i.CreatedAt, &i.ExpiresAt}
}

// CreateInvite implements tenant.Store.
func (s *TenantStore) CreateInvite(ctx context.Context, a tenant.Actor, in tenant.NewInvite) (tenant.Invite, error) {
	const insert = `
INSERT INTO tenant_invites (tenant_id, code_hash, role, email_bidx, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 microsecond')
RETURNING ` + inviteColumns
	var inv tenant.Invite
	err := s.db.InTx(ctx, a.Principal, func(tx pgx.Tx) error {
		if _, err := lockAndAuthorize(ctx, tx, a.Principal, managers...); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, insert, a.TenantID, in.CodeHash, in.Role, in.EmailIndex, a.UserID, in.TTL.Microseconds()).Scan(inviteDest(&inv)...)
		if err != nil {
			return fmt.Errorf("tenant store: create invite: %w", err)
		}
		return recordAudit(ctx, tx, a, AuditInviteCreated, map[string]any{"invite_id": inv.ID, "role": inv.Role, "email_restricted": inv.EmailRestricted, "expires_at": inv.ExpiresAt})
	})
	if err != nil {
		return tenant.Invite{}, err
	}
	return inv, nil
}

// Invites implements tenant.Store: the caller's role, then the page, in one read-only transaction.
func (s *TenantStore) Invites(ctx context.Context, p auth.Principal, q tenant.PageQuery) (tenant.InvitePage, error) {
	const list = `
SELECT ` + inviteColumns + ` FROM tenant_invites
WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
  AND ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $3`
	args := []any{nil, nil, q.Limit + 1}
	if q.After != nil {
		args[0], args[1] = q.After.CreatedAt, q.After.ID
	}
	var page tenant.InvitePage
	err := s.db.ReadTx(ctx, p, func(tx pgx.Tx) error {
		if _, err := authorize(ctx, tx, p, managers...); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, list, args...)
		if err != nil {
			return fmt.Errorf("tenant store: invites: %w", err)
		}
		page.Invites, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (tenant.Invite, error) {
			var inv tenant.Invite
			err := row.Scan(inviteDest(&inv)...)
			return inv, err
		})
		if err != nil {
			return fmt.Errorf("tenant store: invites: %w", err)
		}
		return nil
	})
	if err != nil {
		return tenant.InvitePage{}, err
	}
	if len(page.Invites) > q.Limit {
		page.Invites = page.Invites[:q.Limit]
		last := page.Invites[len(page.Invites)-1]
		page.Next = &tenant.Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// RevokeInvite implements tenant.Store.
func (s *TenantStore) RevokeInvite(ctx context.Context, a tenant.Actor, id string) error {
	const (
		find   = `SELECT accepted_at IS NOT NULL, revoked_at IS NOT NULL FROM tenant_invites WHERE id = $1 FOR UPDATE`
		revoke = `UPDATE tenant_invites SET revoked_at = now() WHERE id = $1`
	)
	return s.db.InTx(ctx, a.Principal, func(tx pgx.Tx) error {
		if _, err := lockAndAuthorize(ctx, tx, a.Principal, managers...); err != nil {
			return err
		}
		var accepted, revoked bool
		err := tx.QueryRow(ctx, find, id).Scan(&accepted, &revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return tenant.ErrInviteNotFound
		case err != nil:
			return fmt.Errorf("tenant store: find invite: %w", err)
		case accepted:
			return tenant.ErrInviteAccepted
		case revoked:
			return nil
		}
		if _, err := tx.Exec(ctx, revoke, id); err != nil {
			return fmt.Errorf("tenant store: revoke invite: %w", err)
		}
		return recordAudit(ctx, tx, a, AuditInviteRevoked, map[string]any{"invite_id": id})
	})
}

// lockAndAuthorize locks the principal's tenant row, which serialises the tenant's membership changes,
// then authorises the principal as authorize does. The lock comes first, in a statement of its own: a
// read in the same statement would see the tenant as it was before the lock was granted.
func lockAndAuthorize(ctx context.Context, tx pgx.Tx, p auth.Principal, roles ...string) (string, error) {
	const lock = `SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE`
	var one int
	err := tx.QueryRow(ctx, lock, p.TenantID).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", tenant.ErrNotMember
	case err != nil:
		return "", fmt.Errorf("tenant store: lock tenant: %w", err)
	}
	return authorize(ctx, tx, p, roles...)
}

// authorize returns the principal's role from its membership row: ErrNotMember when there is none,
// ErrForbidden when the role is not one of roles.
func authorize(ctx context.Context, tx pgx.Tx, p auth.Principal, roles ...string) (string, error) {
	role, err := memberRole(ctx, tx, p.UserID)
	switch {
	case errors.Is(err, tenant.ErrMemberNotFound):
		return "", tenant.ErrNotMember
	case err != nil:
		return "", err
	case !slices.Contains(roles, role):
		return role, tenant.ErrForbidden
	}
	return role, nil
}

// memberRole returns userID's role in the transaction's tenant; ErrMemberNotFound when not a member.
func memberRole(ctx context.Context, tx pgx.Tx, userID string) (string, error) {
	var role string
	err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE user_id = $1`, userID).Scan(&role)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", tenant.ErrMemberNotFound
	case err != nil:
		return "", fmt.Errorf("tenant store: read role: %w", err)
	}
	return role, nil
}

// requireAnotherOwner returns ErrLastOwner unless the tenant has at least two owners, so that one of them
// may be demoted or removed. (The tenant is named for the index, as in Get.)
func requireAnotherOwner(ctx context.Context, tx pgx.Tx, tenantID string) error {
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'`, tenantID).Scan(&owners); err != nil {
		return fmt.Errorf("tenant store: count owners: %w", err)
	}
	if owners < 2 {
		return tenant.ErrLastOwner
	}
	return nil
}

// revokeSessions ends every live session of userID in tenantID, so the member signs in again and gets a
// token with their new role, or none. Access tokens already issued live out their short lifetime; the
// role checks above read the database, not the token.
func revokeSessions(ctx context.Context, tx pgx.Tx, tenantID, userID string) error {
	const q = `
UPDATE sessions SET revoked_at = now(), revoked_reason = 'membership'
WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`
	if _, err := tx.Exec(ctx, q, tenantID, userID); err != nil {
		return fmt.Errorf("tenant store: revoke sessions: %w", err)
	}
	return nil
}

// recordAudit appends an audit event in tx, so the log holds the change if and only if it committed.
func recordAudit(ctx context.Context, tx pgx.Tx, a tenant.Actor, kind string, detail map[string]any) error {
	const q = `
INSERT INTO audit_events (tenant_id, user_id, kind, ip, route, detail, request_id)
VALUES ($1, $2, $3, nullif($4, '')::inet, nullif($5, ''), $6::jsonb, nullif($7, ''))`
	if _, err := tx.Exec(ctx, q, a.TenantID, a.UserID, kind, a.IP, a.Route, string(audit.DetailJSON(detail)), a.RequestID); err != nil {
		return fmt.Errorf("tenant store: audit %s: %w", kind, err)
	}
	return nil
}

// addEvent writes a webhook event about a membership change to the outbox in tx and returns its id, when
// an enabled endpoint of the tenant receives events of that kind; otherwise it writes nothing and returns
// "" (the event would reach no one: the relay and the dispatcher would only pass it along to drop it).
func addEvent(ctx context.Context, tx pgx.Tx, a tenant.Actor, kind string, payload map[string]any) (string, error) {
	var subscribed bool
	if err := tx.QueryRow(ctx, `SELECT `+webhookSubscribed("$1::uuid", "$2::text"), a.TenantID, kind).Scan(&subscribed); err != nil {
		return "", fmt.Errorf("tenant store: webhook subscription of %s: %w", kind, err)
	}
	if !subscribed {
		return "", nil
	}
	id := uuid.NewString()
	payload["tenant_id"], payload["by"] = a.TenantID, a.UserID
	if err := outbox.Add(ctx, tx, outbox.Entry{ID: id, Queue: "webhooks", Kind: kind, TenantID: a.TenantID, Payload: payload}); err != nil {
		return "", err
	}
	return id, nil
}

// publish sends a committed event at once, best effort: the outbox relay sends what this does not.
func (s *TenantStore) publish(ctx context.Context, tenantID, eventID string) {
	if s.events != nil && eventID != "" {
		_, _ = s.events.PublishNow(ctx, tenantID, eventID)
	}
}
