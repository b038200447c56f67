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

// fieldNames are a horse's JSON names, in the order its responses write them.
var fieldNames = [...]string{
	"id", "name", "breed", "sex", "color", "birth_year", "discipline", "description",
	"owner_user_id", "owner_business_id", "created_by", "created_at", "updated_at",
}

// fieldKeys[i] is fieldNames[i] written as an object key (`"id":`; the names need no escaping), and
// allFields every field's index, in order.
var fieldKeys, allFields = func() (keys [len(fieldNames)]string, all []int) {
	for i, n := range fieldNames {
		keys[i], all = `"`+n+`":`, append(all, i)
	}
	return keys, all
}()

// Fields returns the names ?fields= may select, in the order responses use. The result is a new slice.
func Fields() []string { return slices.Clone(fieldNames[:]) }

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
	fields []int // indices into fieldNames, sorted by name, without duplicates
}

// NewProjection returns the projection of fields (names outside Fields are ignored, as by Project).
func NewProjection(fields []string) Projection {
	p := Projection{fields: make([]int, 0, len(fields))}
	for _, f := range slices.Compact(slices.Sorted(slices.Values(fields))) {
		if i := slices.Index(fieldNames[:], f); i >= 0 {
			p.fields = append(p.fields, i)
		}
	}
	return p
}

// Of returns h under the projection, ready to be written.
func (p Projection) Of(h Horse) Projected { return Projected{fields: p.fields, h: h} }

// Projected is a horse under a Projection; it implements httpapi.JSONAppender.
type Projected struct {
	fields []int
	h      Horse
}

// AppendJSON appends the projected fields as encoding/json writes h.Project(fields)
// (TestProjectedAppendJSONMatchesEncodingJSON keeps the two equal).
func (p Projected) AppendJSON(b []byte) ([]byte, error) { return p.h.appendFields(b, p.fields) }

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
func (h Horse) AppendJSON(b []byte) ([]byte, error) { return h.appendFields(b, allFields) }

// appendFields appends a JSON object of the fields with the given indices into fieldNames, in that order.
func (h Horse) appendFields(b []byte, fields []int) ([]byte, error) {
	b = append(b, '{')
	for n, i := range fields {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, fieldKeys[i]...)
		var err error
		if b, err = h.appendField(b, i); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendField appends the JSON value of field fieldNames[i], as encoding/json writes it. The cases follow
// fieldNames' order; TestHorseAppendJSONMatchesEncodingJSON fails on any mismatch.
func (h Horse) appendField(b []byte, i int) ([]byte, error) {
	switch i {
	case 0:
		b = jsonx.AppendString(b, h.ID)
	case 1:
		b = jsonx.AppendString(b, h.Name)
	case 2:
		b = jsonx.AppendStringOrNull(b, h.Breed)
	case 3:
		b = jsonx.AppendString(b, h.Sex)
	case 4:
		b = jsonx.AppendStringOrNull(b, h.Color)
	case 5:
		if h.BirthYear == nil {
			return append(b, "null"...), nil
		}
		b = strconv.AppendInt(b, int64(*h.BirthYear), 10)
	case 6:
		b = jsonx.AppendStringOrNull(b, h.Discipline)
	case 7:
		b = jsonx.AppendStringOrNull(b, h.Description)
	case 8:
		b = jsonx.AppendStringOrNull(b, h.OwnerUserID)
	case 9:
		b = jsonx.AppendStringOrNull(b, h.OwnerBusinessID)
	case 10:
		b = jsonx.AppendString(b, h.CreatedBy)
	case 11:
		return jsonx.AppendTime(b, h.CreatedAt)
	case 12:
		return jsonx.AppendTime(b, h.UpdatedAt)
	}
	return b, nil
}
