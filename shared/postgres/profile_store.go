package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/profile"
)

// ProfileStore keeps profiles. Row-level security confines every statement to the principal's tenant. It
// never reads or writes the encrypted personal columns.
type ProfileStore struct {
	db *DB
}

var _ profile.Store = (*ProfileStore)(nil)

// NewProfileStore returns a store on db.
func NewProfileStore(db *DB) *ProfileStore { return &ProfileStore{db: db} }

// profileColumns is every public column of a Profile, in the order profileDest reads them.
const profileColumns = `id, user_id, display_name, bio, avatar_url, location, created_at, updated_at`

func profileDest(pr *profile.Profile) []any {
	return []any{&pr.ID, &pr.UserID, &pr.DisplayName, &pr.Bio, &pr.AvatarURL, &pr.Location, &pr.CreatedAt, &pr.UpdatedAt}
}

// Me implements profile.Store in one statement: insert the profile if the caller is a member of the tenant
// and has none, else read the one there is. Two first calls racing each other can both miss the row (the
// loser's statement started before the winner committed), so an empty answer is asked once more.
func (s *ProfileStore) Me(ctx context.Context, p auth.Principal) (profile.Profile, error) {
	const q = `
WITH ins AS (
    INSERT INTO profiles (tenant_id, user_id, display_name)
    SELECT $1::uuid, $2::uuid, left(coalesce((SELECT u.display_name FROM users u WHERE u.id = $2::uuid), ''), 200)
    WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $2::uuid)
    ON CONFLICT (tenant_id, user_id) DO NOTHING
    RETURNING ` + profileColumns + `
)
SELECT ` + profileColumns + ` FROM ins
UNION ALL
SELECT ` + profileColumns + ` FROM profiles WHERE user_id = $2::uuid AND NOT EXISTS (SELECT 1 FROM ins)`
	var pr profile.Profile
	for attempt := 0; ; attempt++ {
		err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{p.TenantID, p.UserID}, profileDest(&pr)...)
		switch {
		case errors.Is(err, pgx.ErrNoRows) && attempt == 0:
			continue
		case errors.Is(err, pgx.ErrNoRows):
			return pr, profile.ErrNotFound
		case err != nil:
			return pr, fmt.Errorf("profile store: me: %w", err)
		}
		return pr, nil
	}
}

// UpdateMe implements profile.Store in one statement (an upsert), for members of the tenant only.
func (s *ProfileStore) UpdateMe(ctx context.Context, p auth.Principal, u profile.UpdateRequest) (profile.Profile, error) {
	const q = `
INSERT INTO profiles AS pr (tenant_id, user_id, display_name, bio, avatar_url, location)
SELECT $1::uuid, $2::uuid,
       coalesce($3::text, left(coalesce((SELECT u.display_name FROM users u WHERE u.id = $2::uuid), ''), 200)),
       nullif($4::text, ''), nullif($5::text, ''), nullif($6::text, '')
WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $2::uuid)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
    display_name = coalesce($3::text, pr.display_name),
    bio          = CASE WHEN $4::text IS NULL THEN pr.bio ELSE nullif($4::text, '') END,
    avatar_url   = CASE WHEN $5::text IS NULL THEN pr.avatar_url ELSE nullif($5::text, '') END,
    location     = CASE WHEN $6::text IS NULL THEN pr.location ELSE nullif($6::text, '') END
RETURNING ` + profileColumns
	var pr profile.Profile
	args := []any{p.TenantID, p.UserID, u.DisplayName, u.Bio, u.AvatarURL, u.Location}
	err := s.db.QueryRow(ctx, p, ReadWrite, q, args, profileDest(&pr)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return pr, profile.ErrNotFound
	case err != nil:
		return pr, fmt.Errorf("profile store: update me: %w", err)
	}
	return pr, nil
}

// Get implements profile.Store.
func (s *ProfileStore) Get(ctx context.Context, p auth.Principal, id string) (profile.Profile, error) {
	const q = `SELECT ` + profileColumns + ` FROM profiles WHERE id = $1`
	var pr profile.Profile
	err := s.db.QueryRow(ctx, p, ReadOnly, q, []any{id}, profileDest(&pr)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return pr, profile.ErrNotFound
	case err != nil:
		return pr, fmt.Errorf("profile store: get: %w", err)
	}
	return pr, nil
}
