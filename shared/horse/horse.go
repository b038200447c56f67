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
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
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

// object writes a horse's JSON: every field in a response's order (AppendJSON), or those a listing asked
// for (Projection). TestHorseAppendJSONMatchesEncodingJSON and TestProjectionMatchesEncodingJSON hold it
// to encoding/json's bytes.
var object = httpapi.NewObject(
	httpapi.Field[Horse]{Name: "id", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendString(b, h.ID), nil }},
	httpapi.Field[Horse]{Name: "name", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendString(b, h.Name), nil }},
	httpapi.Field[Horse]{Name: "breed", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendStringOrNull(b, h.Breed), nil }},
	httpapi.Field[Horse]{Name: "sex", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendString(b, h.Sex), nil }},
	httpapi.Field[Horse]{Name: "color", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendStringOrNull(b, h.Color), nil }},
	httpapi.Field[Horse]{Name: "birth_year", Value: func(b []byte, h *Horse) ([]byte, error) {
		if h.BirthYear == nil {
			return append(b, "null"...), nil
		}
		return strconv.AppendInt(b, int64(*h.BirthYear), 10), nil
	}},
	httpapi.Field[Horse]{Name: "discipline", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendStringOrNull(b, h.Discipline), nil }},
	httpapi.Field[Horse]{Name: "description", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendStringOrNull(b, h.Description), nil }},
	httpapi.Field[Horse]{Name: "owner_user_id", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendStringOrNull(b, h.OwnerUserID), nil }},
	httpapi.Field[Horse]{Name: "owner_business_id", Value: func(b []byte, h *Horse) ([]byte, error) {
		return jsonx.AppendStringOrNull(b, h.OwnerBusinessID), nil
	}},
	httpapi.Field[Horse]{Name: "created_by", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendString(b, h.CreatedBy), nil }},
	httpapi.Field[Horse]{Name: "created_at", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendTime(b, h.CreatedAt) }},
	httpapi.Field[Horse]{Name: "updated_at", Value: func(b []byte, h *Horse) ([]byte, error) { return jsonx.AppendTime(b, h.UpdatedAt) }},
)

// Fields returns the names ?fields= may select, in the order responses use. The result is a new slice.
func Fields() []string { return object.Names() }

// Projection returns the projection of fields for a listing: each horse written with only those fields,
// keys sorted, the bytes encoding/json writes for a map of them. Names outside Fields are ignored.
func Projection(fields []string) httpapi.Projection[Horse] { return object.Projection(fields) }

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
func (h Horse) AppendJSON(b []byte) ([]byte, error) { return object.Append(b, &h) }
