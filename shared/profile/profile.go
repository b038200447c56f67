// Package profile is a member's profile inside a tenant: the caller's own (GET and PATCH /me, made on first
// read) and other members' public profiles (GET /profiles/{id}).
//
// The personal fields (phone, date of birth, address) belong to the caller alone: PATCH /me sets them and
// GET /me returns them (Own), while GET /profiles/{id} answers the public Profile, which has no such
// fields, whoever asks. The Store keeps them only as ciphertext (shared/seal), each bound to its tenant,
// user and column. Persistence is behind Store, declared here and implemented by shared/postgres; tenant isolation is the
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

// Own is the caller's own profile: the public fields and the personal ones, in clear. The personal fields
// encode as JSON null when unset.
type Own struct {
	Profile
	Phone       *string  `json:"phone"`         // E.164, e.g. +46701234567
	DateOfBirth *string  `json:"date_of_birth"` // YYYY-MM-DD
	Address     *Address `json:"address"`
}

// Address is a postal address. Line1, City and Country are required; Country is an ISO 3166-1 alpha-2
// code in upper case (SE, US). Empty optional fields are left out of the JSON.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	Country    string `json:"country"`
}

// IsZero reports whether every field of a is empty: in a patch, the address is cleared.
func (a Address) IsZero() bool { return a == Address{} }

// ErrNotFound is returned by a Store when no such profile is visible, and by Me and UpdateMe when the
// caller is not a member of its tenant (so it can have no profile there).
var ErrNotFound = errors.New("profile: not found")

// Store keeps profiles. Every method runs as principal p under the tenant's row-level security.
//
// Me returns the caller's profile in its tenant with its personal fields, creating it on first call with
// the user's display name. UpdateMe changes the fields present in patch (a validated UpdateRequest),
// creating the profile first when needed, and returns the result like Me. Get reads any profile of the
// tenant by its id, without personal fields. All return ErrNotFound as documented on it; other errors are unexpected
// failures.
type Store interface {
	Me(ctx context.Context, p auth.Principal) (Own, error)
	UpdateMe(ctx context.Context, p auth.Principal, patch UpdateRequest) (Own, error)
	Get(ctx context.Context, p auth.Principal, id string) (Profile, error)
}
