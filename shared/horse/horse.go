// Package horse is the horse directory of a tenant: horses owned by a member or by a business, readable by
// everyone in the tenant and edited by their creator or the tenant's owners and admins.
//
// The package holds the types, the request validation and the HTTP handlers. Persistence is behind Store,
// declared here and implemented by shared/postgres; tenant isolation is the database's row-level security,
// so a horse of another tenant is simply not found.
package horse

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/jsonx"
)

// Horse is one horse as the API shows it. Nullable columns are pointers and encode as JSON null.
type Horse struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Breed           *string   `json:"breed"`
	Sex             string    `json:"sex"`
	Color           *string   `json:"color"`
	BirthYear       *int      `json:"birth_year"`
	Discipline      *string   `json:"discipline"`
	Description     *string   `json:"description"`
	OwnerUserID     *string   `json:"owner_user_id"`
	OwnerBusinessID *string   `json:"owner_business_id"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Fields returns the names ?fields= may select, in the order responses use. The result is a new slice.
func Fields() []string {
	return []string{
		"id", "name", "breed", "sex", "color", "birth_year", "discipline", "description",
		"owner_user_id", "owner_business_id", "created_by", "created_at", "updated_at",
	}
}

// Project returns the named fields of h as a JSON object. Names outside Fields are ignored.
func (h Horse) Project(fields []string) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		switch f {
		case "id":
			out[f] = h.ID
		case "name":
			out[f] = h.Name
		case "breed":
			out[f] = h.Breed
		case "sex":
			out[f] = h.Sex
		case "color":
			out[f] = h.Color
		case "birth_year":
			out[f] = h.BirthYear
		case "discipline":
			out[f] = h.Discipline
		case "description":
			out[f] = h.Description
		case "owner_user_id":
			out[f] = h.OwnerUserID
		case "owner_business_id":
			out[f] = h.OwnerBusinessID
		case "created_by":
			out[f] = h.CreatedBy
		case "created_at":
			out[f] = h.CreatedAt
		case "updated_at":
			out[f] = h.UpdatedAt
		}
	}
	return out
}

// Projection writes horses with only the fields a listing asked for (?fields=), without reflection: the
// bytes encoding/json writes for h.Project(fields), a map, whose keys it sorts.
type Projection struct {
	fields []string // sorted, without duplicates
}

// NewProjection returns the projection of fields (names outside Fields are ignored, as by Project).
func NewProjection(fields []string) Projection {
	all := Fields()
	sorted := slices.Compact(slices.Sorted(slices.Values(fields)))
	return Projection{fields: slices.DeleteFunc(sorted, func(f string) bool { return !slices.Contains(all, f) })}
}

// Of returns h under the projection, ready to be written.
func (p Projection) Of(h Horse) Projected { return Projected{fields: p.fields, h: h} }

// Projected is a horse under a Projection; it implements httpapi.JSONAppender.
type Projected struct {
	fields []string
	h      Horse
}

// AppendJSON appends the projected fields as encoding/json writes h.Project(fields)
// (TestProjectedAppendJSONMatchesEncodingJSON keeps the two equal).
func (p Projected) AppendJSON(b []byte) ([]byte, error) {
	h := p.h
	b = append(b, '{')
	for i, f := range p.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, f)
		b = append(b, ':')
		var err error
		switch f {
		case "id":
			b = jsonx.AppendString(b, h.ID)
		case "name":
			b = jsonx.AppendString(b, h.Name)
		case "breed":
			b = jsonx.AppendStringOrNull(b, h.Breed)
		case "sex":
			b = jsonx.AppendString(b, h.Sex)
		case "color":
			b = jsonx.AppendStringOrNull(b, h.Color)
		case "birth_year":
			if h.BirthYear == nil {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendInt(b, int64(*h.BirthYear), 10)
			}
		case "discipline":
			b = jsonx.AppendStringOrNull(b, h.Discipline)
		case "description":
			b = jsonx.AppendStringOrNull(b, h.Description)
		case "owner_user_id":
			b = jsonx.AppendStringOrNull(b, h.OwnerUserID)
		case "owner_business_id":
			b = jsonx.AppendStringOrNull(b, h.OwnerBusinessID)
		case "created_by":
			b = jsonx.AppendString(b, h.CreatedBy)
		case "created_at":
			b, err = jsonx.AppendTime(b, h.CreatedAt)
		case "updated_at":
			b, err = jsonx.AppendTime(b, h.UpdatedAt)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// Position is a place in the listing order (created_at DESC, id DESC): the last row served.
type Position struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// valid reports whether p could have come from a listing: its id is a UUID in the 36-character form.
func (p Position) valid() bool { return len(p.ID) == 36 && uuid.Validate(p.ID) == nil }

// ListQuery selects a page of horses. Empty filter fields do not filter.
type ListQuery struct {
	OwnerUserID     string
	OwnerBusinessID string
	Breed           string // matched case-insensitively
	Fields          []string
	Limit           int
	After           *Position // nil for the first page
}

// Page is one page of a listing. Next is the position to continue after, nil on the last page.
type Page struct {
	Horses []Horse
	Next   *Position
}

// Errors a Store returns; handlers map them to HTTP answers.
var (
	// ErrNotFound: no horse with that id is visible to the caller (it may belong to another tenant).
	ErrNotFound = errors.New("horse: not found")
	// ErrForbidden: the horse exists, but the caller may not change it.
	ErrForbidden = errors.New("horse: not allowed")
	// ErrOwnerUserNotMember: owner_user_id is not a member of the caller's tenant.
	ErrOwnerUserNotMember = errors.New("horse: owner user is not a member of the tenant")
	// ErrOwnerBusinessNotFound: owner_business_id names no business of the caller's tenant.
	ErrOwnerBusinessNotFound = errors.New("horse: owner business not found")
)

// Store keeps horses. Every method runs as principal p under the tenant's row-level security.
//
// Create, Update and Delete return ErrOwnerUserNotMember or ErrOwnerBusinessNotFound for owners that do not
// exist in the tenant. Get, Update and Delete return ErrNotFound for an id no visible horse has; Update and
// Delete return ErrForbidden when the horse exists but p neither created it nor may manage the tenant.
// Other errors are unexpected failures.
//
// Create, Update and Delete may store the request's idempotency record in their own write, when the
// handler declared its response with idempotency.Expect: then the record's body is the horse Create and
// Update return, as httpapi.WriteJSON encodes it (Delete's is empty), and the handler must answer exactly
// that.
type Store interface {
	Create(ctx context.Context, p auth.Principal, in CreateRequest) (Horse, error)
	Get(ctx context.Context, p auth.Principal, id string) (Horse, error)
	List(ctx context.Context, p auth.Principal, q ListQuery) (Page, error)
	Update(ctx context.Context, p auth.Principal, id string, patch UpdateRequest) (Horse, error)
	Delete(ctx context.Context, p auth.Principal, id string) error
}

// AppendJSON implements httpapi.JSONAppender: the bytes encoding/json writes for h, without reflection
// (TestHorseAppendJSONMatchesEncodingJSON keeps the two equal, field for field).
func (h Horse) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, h.ID)
	b = append(b, `,"name":`...)
	b = jsonx.AppendString(b, h.Name)
	b = append(b, `,"breed":`...)
	b = jsonx.AppendStringOrNull(b, h.Breed)
	b = append(b, `,"sex":`...)
	b = jsonx.AppendString(b, h.Sex)
	b = append(b, `,"color":`...)
	b = jsonx.AppendStringOrNull(b, h.Color)
	b = append(b, `,"birth_year":`...)
	if h.BirthYear == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*h.BirthYear), 10)
	}
	b = append(b, `,"discipline":`...)
	b = jsonx.AppendStringOrNull(b, h.Discipline)
	b = append(b, `,"description":`...)
	b = jsonx.AppendStringOrNull(b, h.Description)
	b = append(b, `,"owner_user_id":`...)
	b = jsonx.AppendStringOrNull(b, h.OwnerUserID)
	b = append(b, `,"owner_business_id":`...)
	b = jsonx.AppendStringOrNull(b, h.OwnerBusinessID)
	b = append(b, `,"created_by":`...)
	b = jsonx.AppendString(b, h.CreatedBy)
	b = append(b, `,"created_at":`...)
	b, err := jsonx.AppendTime(b, h.CreatedAt)
	if err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = jsonx.AppendTime(b, h.UpdatedAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}
