// Package profile is a member's profile inside a tenant: the caller's own (GET and PATCH /me, made on first
// read) and other members' public profiles (GET /profiles/{id}).
//
// The personal fields of the table (phone, date of birth, address) are stored encrypted and are not part of
// this API yet: requests naming them are rejected as unknown fields, and responses never carry them.
// Persistence is behind Store, declared here and implemented by shared/postgres; tenant isolation is the
// database's row-level security, so a profile of another tenant is simply not found.
package profile

import (
	"context"
	"errors"
	"time"

	"github.com/rocker-app/corral/shared/auth"
)

// Profile is a member's public profile. Nullable columns are pointers and encode as JSON null.
type Profile struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	DisplayName string    `json:"display_name"`
	Bio         *string   `json:"bio"`
	AvatarURL   *string   `json:"avatar_url"`
	Location    *string   `json:"location"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ErrNotFound is returned by a Store when no such profile is visible, and by Me and UpdateMe when the
// caller is not a member of its tenant (so it can have no profile there).
var ErrNotFound = errors.New("profile: not found")

// Store keeps profiles. Every method runs as principal p under the tenant's row-level security.
//
// Me returns the caller's profile in its tenant, creating it on first call with the user's display name.
// UpdateMe changes the fields present in patch, creating the profile first when needed. Get reads any
// profile of the tenant by its id. All return ErrNotFound as documented on it; other errors are unexpected
// failures.
type Store interface {
	Me(ctx context.Context, p auth.Principal) (Profile, error)
	UpdateMe(ctx context.Context, p auth.Principal, patch UpdateRequest) (Profile, error)
	Get(ctx context.Context, p auth.Principal, id string) (Profile, error)
}
