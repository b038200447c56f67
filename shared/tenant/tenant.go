// Package tenant is the caller's organisation: its name, its members and their roles (owner, admin,
// moderator, member), and the invites that let new people join it at signup.
//
// Every member reads the organisation and its member list. Owners and admins rename it, change roles,
// remove members and manage invites; only an owner may make someone an owner or change or remove an
// owner. Anyone may leave. A tenant always keeps at least one owner: its last owner can be neither demoted
// nor removed, and cannot leave.
//
// Roles are checked against the caller's membership row in the database, inside the transaction that makes
// the change, never only against the token (whose role may be up to its lifetime stale). Persistence is
// behind Store, declared here and implemented by shared/postgres; tenant isolation is the database's
// row-level security, so a member or invite of another tenant is simply not found.
package tenant

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
)

// Tenant is the caller's organisation as GET /tenant shows it. Role is the caller's own role in it, read
// from the database.
type Tenant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	CreatedAt   time.Time `json:"created_at"`
	MemberCount int       `json:"member_count"`
	Role        string    `json:"role"`
}

// Roles lists the roles of a membership, strongest first.
func Roles() []string {
	return []string{auth.RoleOwner, auth.RoleAdmin, auth.RoleModerator, auth.RoleMember}
}

// InviteRoles lists the roles an invite may grant: every role but owner (ownership is given by an owner
// to an existing member).
func InviteRoles() []string { return []string{auth.RoleAdmin, auth.RoleModerator, auth.RoleMember} }

// Member is one membership of the tenant. DisplayName is the member's profile name in the tenant, or the
// account's display name when the member has no profile.
type Member struct {
	UserID      string    `json:"user_id"`
	Role        string    `json:"role"`
	DisplayName string    `json:"display_name"`
	JoinedAt    time.Time `json:"joined_at"`
}

// Invite is a pending invitation as the API shows it. Its code is never stored, only a digest of it, so
// only the response that creates the invite carries it (CreatedInvite). EmailRestricted says that only
// one email address may accept it; the address itself is not stored, only its blind index.
type Invite struct {
	ID              string    `json:"id"`
	Role            string    `json:"role"`
	EmailRestricted bool      `json:"email_restricted"`
	CreatedBy       *string   `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
}

// CreatedInvite is the answer to POST /tenant/invites: the invite and, this once, its code.
type CreatedInvite struct {
	Invite
	Code string `json:"code"`
}

// NewInvite is what Store.CreateInvite writes: the role, the SHA-256 digest of the code, the blind index
// of the one email address that may accept it (nil for anyone), and how long it stays valid from now.
type NewInvite struct {
	Role       string
	CodeHash   []byte
	EmailIndex []byte
	TTL        time.Duration
}

// EmailIndex computes the keyed blind index an email address is looked up by; *seal.BlindIndex
// implements it. Signup compares an invite's index with the index of the email signing up.
type EmailIndex interface {
	Index(email string) []byte
}

// Position is a place in a listing ordered by (created_at DESC, id DESC): the last row served. For
// members, CreatedAt is when they joined and ID is their user id.
type Position struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// valid reports whether p could have come from a listing: its id is a UUID in the 36-character form.
func (p Position) valid() bool { return len(p.ID) == 36 && uuid.Validate(p.ID) == nil }

// PageQuery selects a page of a listing: at most Limit rows after After (nil for the first page).
type PageQuery struct {
	Limit int
	After *Position
}

// MemberPage is one page of members, the most recently joined first. Next is the position to continue
// after, nil on the last page.
type MemberPage struct {
	Members []Member
	Next    *Position
}

// InvitePage is one page of pending invites, newest first. Next is nil on the last page.
type InvitePage struct {
	Invites []Invite
	Next    *Position
}

// Actor is the principal making a change and where its request came from. Stores record it in the audit
// log, in the transaction that makes the change.
type Actor struct {
	auth.Principal
	IP        string // the client's address; "" when unknown
	Route     string // the matched route, e.g. "DELETE /tenant/members/{user_id}"
	RequestID string
}

// Errors a Store returns; handlers map them to HTTP answers.
var (
	// ErrNotMember: the caller is not, or no longer, a member of the token's tenant.
	ErrNotMember = errors.New("tenant: the caller is not a member")
	// ErrForbidden: the caller's role does not allow the change (owners and admins manage the tenant).
	ErrForbidden = errors.New("tenant: not allowed")
	// ErrOwnerOnly: only an owner may make someone an owner, or change or remove an owner.
	ErrOwnerOnly = errors.New("tenant: only an owner may change owners")
	// ErrMemberNotFound: the user is not a member of the tenant (they may belong to another tenant).
	ErrMemberNotFound = errors.New("tenant: member not found")
	// ErrLastOwner: the change would leave the tenant without an owner.
	ErrLastOwner = errors.New("tenant: the last owner cannot be demoted or removed")
	// ErrInviteNotFound: no invite with that id is visible to the caller.
	ErrInviteNotFound = errors.New("tenant: invite not found")
	// ErrInviteAccepted: the invite was already used to join; there is nothing left to revoke.
	ErrInviteAccepted = errors.New("tenant: invite already accepted")
)

// Store keeps the tenant, its memberships and its invites. Every method runs as the principal (or the
// actor's principal) under the tenant's row-level security, and checks the caller's role against the
// caller's membership row inside its own transaction: a caller without one gets ErrNotMember; a role
// that does not allow the operation gets ErrForbidden (or ErrOwnerOnly, for changes that touch owners).
//
//   - Get, Members: any member.
//   - Rename, CreateInvite, Invites, RevokeInvite: owners and admins.
//   - ChangeRole: owners and admins; granting or taking away owner needs an owner. It returns
//     ErrMemberNotFound for a user who is not a member, ErrLastOwner when it would demote the last owner,
//     and the member unchanged, without recording anything, when the role is already the one asked for.
//   - RemoveMember: owners and admins remove others (an owner only by an owner); anyone removes
//     themself. ErrMemberNotFound and ErrLastOwner as for ChangeRole.
//   - RevokeInvite: ErrInviteNotFound, ErrInviteAccepted; revoking a revoked invite is a no-op.
//
// Role changes and removals revoke the member's sessions in the tenant. Every change is written to the
// audit log in its transaction. Changes of membership are serialised per tenant, so concurrent demotions
// can never leave the tenant without an owner. Other errors are unexpected failures.
type Store interface {
	Get(ctx context.Context, p auth.Principal) (Tenant, error)
	Rename(ctx context.Context, a Actor, name string) (Tenant, error)
	Members(ctx context.Context, p auth.Principal, q PageQuery) (MemberPage, error)
	ChangeRole(ctx context.Context, a Actor, userID, role string) (Member, error)
	RemoveMember(ctx context.Context, a Actor, userID string) error
	CreateInvite(ctx context.Context, a Actor, in NewInvite) (Invite, error)
	Invites(ctx context.Context, p auth.Principal, q PageQuery) (InvitePage, error)
	RevokeInvite(ctx context.Context, a Actor, id string) error
}
