// Package business is the directory of a tenant's businesses (stables, trainers, vets, farriers, shops) and
// their members. Everyone in the tenant reads them; a business is changed by its creator, by the tenant's
// owners and admins, and by its own members with the role owner or manager.
//
// The package holds the types, the request validation and the HTTP handlers. Persistence is behind Store,
// declared here and implemented by shared/postgres; tenant isolation is the database's row-level security,
// so a business of another tenant is simply not found.
package business

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/jsonx"
)

// Business is one business as the API shows it. Nullable columns are pointers and encode as JSON null.
type Business struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Description *string   `json:"description"`
	City        *string   `json:"city"`
	Website     *string   `json:"website"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// object writes a business's JSON: every field in a response's order (AppendJSON), or those a listing
// asked for (Projection); TestBusinessJSONMatchesEncodingJSON holds it to encoding/json's bytes.
var object = httpapi.NewObject(
	httpapi.Field[Business]{Name: "id", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendString(b, v.ID), nil }},
	httpapi.Field[Business]{Name: "name", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendString(b, v.Name), nil }},
	httpapi.Field[Business]{Name: "kind", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendString(b, v.Kind), nil }},
	httpapi.Field[Business]{Name: "description", Value: func(b []byte, v *Business) ([]byte, error) {
		return jsonx.AppendStringOrNull(b, v.Description), nil
	}},
	httpapi.Field[Business]{Name: "city", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendStringOrNull(b, v.City), nil }},
	httpapi.Field[Business]{Name: "website", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendStringOrNull(b, v.Website), nil }},
	httpapi.Field[Business]{Name: "created_by", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendStringOrNull(b, v.CreatedBy), nil }},
	httpapi.Field[Business]{Name: "created_at", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendTime(b, v.CreatedAt) }},
	httpapi.Field[Business]{Name: "updated_at", Value: func(b []byte, v *Business) ([]byte, error) { return jsonx.AppendTime(b, v.UpdatedAt) }},
)

// Fields returns the names ?fields= may select, in the order responses use. The result is a new slice.
func Fields() []string { return object.Names() }

// Projection returns the projection of fields for a listing (see httpapi.Object.Projection). Names outside
// Fields are ignored.
func Projection(fields []string) httpapi.Projection[Business] { return object.Projection(fields) }

// AppendJSON implements httpapi.JSONAppender: the bytes encoding/json writes for b, without reflection.
func (b Business) AppendJSON(dst []byte) ([]byte, error) { return object.Append(dst, &b) }

// Kinds lists the values of kind (the migration's check constraint).
func Kinds() []string { return []string{"stable", "trainer", "vet", "farrier", "shop", "other"} }

// Member roles inside a business.
const (
	RoleOwner   = "owner"
	RoleManager = "manager"
	RoleStaff   = "staff"
)

// Roles lists the member roles.
func Roles() []string { return []string{RoleOwner, RoleManager, RoleStaff} }

// Member is a user's membership of a business. DisplayName is the user's profile name in the tenant, null
// when the user has no profile yet.
type Member struct {
	UserID      string    `json:"user_id"`
	Role        string    `json:"role"`
	DisplayName *string   `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

// Position is a place in a listing ordered by (created_at DESC, id DESC): the last row served. For members,
// ID is the user id.
type Position struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// valid reports whether p could have come from a listing: its id is a UUID in the 36-character form.
func (p Position) valid() bool { return len(p.ID) == 36 && uuid.Validate(p.ID) == nil }

// ListQuery selects a page of businesses. Empty filter fields do not filter.
type ListQuery struct {
	Kind   string
	City   string // matched case-insensitively
	Fields []string
	Limit  int
	After  *Position
}

// Page is one page of businesses. Next is the position to continue after, nil on the last page.
type Page struct {
	Businesses []Business
	Next       *Position
}

// MemberQuery selects a page of a business's members.
type MemberQuery struct {
	Limit int
	After *Position
}

// MemberPage is one page of members, newest first.
type MemberPage struct {
	Members []Member
	Next    *Position
}

// Errors a Store returns; handlers map them to HTTP answers.
var (
	// ErrNotFound: no business with that id is visible to the caller (it may belong to another tenant).
	ErrNotFound = errors.New("business: not found")
	// ErrForbidden: the business exists, but the caller may not change it.
	ErrForbidden = errors.New("business: not allowed")
	// ErrNotTenantMember: the user to add is not a member of the caller's tenant.
	ErrNotTenantMember = errors.New("business: user is not a member of the tenant")
	// ErrAlreadyMember: the user to add is already a member of the business.
	ErrAlreadyMember = errors.New("business: user is already a member")
	// ErrMemberNotFound: the user to remove is not a member of the business.
	ErrMemberNotFound = errors.New("business: member not found")
)

// Store keeps businesses and their members. Every method runs as principal p under the tenant's row-level
// security.
//
// A principal may edit a business (Update, Delete, AddMember, RemoveMember) when it created it, may manage
// the tenant (p.CanManageTenant), or is a member of the business with role owner or manager; a member may
// also remove themself. Methods taking a business id return ErrNotFound when no such business is visible
// and ErrForbidden when it is but p may not edit it. Create makes the creator an owner member in the same
// transaction. AddMember returns ErrNotTenantMember or ErrAlreadyMember; RemoveMember returns
// ErrMemberNotFound. Other errors are unexpected failures.
type Store interface {
	Create(ctx context.Context, p auth.Principal, in CreateRequest) (Business, error)
	Get(ctx context.Context, p auth.Principal, id string) (Business, error)
	List(ctx context.Context, p auth.Principal, q ListQuery) (Page, error)
	Update(ctx context.Context, p auth.Principal, id string, patch UpdateRequest) (Business, error)
	Delete(ctx context.Context, p auth.Principal, id string) error
	Members(ctx context.Context, p auth.Principal, id string, q MemberQuery) (MemberPage, error)
	AddMember(ctx context.Context, p auth.Principal, id string, in AddMemberRequest) (Member, error)
	RemoveMember(ctx context.Context, p auth.Principal, id, userID string) error
}
