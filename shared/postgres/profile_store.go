package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/profile"
	"github.com/rocker-app/corral/shared/seal"
)

// Sealer encrypts values bound to additional data, and decrypts them given the same additional data
// (shared/seal's *Sealer).
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
}

// ProfileStore keeps profiles. Row-level security confines every statement to the principal's tenant.
//
// The personal columns (phone_enc, date_of_birth_enc, address_enc) hold only ciphertext made by the
// Sealer, each bound to its place with seal.AAD("profiles.<column>", tenant id, user id), e.g.
// seal.AAD("profiles.phone", ...): a value copied to another row or column does not open. Phone and date of
// birth are sealed as their text, the address as its JSON. Only Me and UpdateMe, for the profile's own
// user, read them; Get never selects them.
type ProfileStore struct {
	db     *DB
	sealer Sealer
}

var _ profile.Store = (*ProfileStore)(nil)

// NewProfileStore returns a store on db sealing personal fields with sealer (which must not be nil).
func NewProfileStore(db *DB, sealer Sealer) *ProfileStore {
	return &ProfileStore{db: db, sealer: sealer}
}

// profileColumns is every public column of a Profile, in the order profileDest reads them.
const profileColumns = `id, user_id, display_name, bio, avatar_url, location, created_at, updated_at`

// ownColumns adds the personal columns, in the order ownRow.dest reads them.
const ownColumns = profileColumns + `, phone_enc, date_of_birth_enc, address_enc`

func profileDest(pr *profile.Profile) []any {
	return []any{&pr.ID, &pr.UserID, &pr.DisplayName, &pr.Bio, &pr.AvatarURL, &pr.Location, &pr.CreatedAt, &pr.UpdatedAt}
}

// ownRow is a profile row with its personal columns still sealed.
type ownRow struct {
	pr                    profile.Profile
	phone, birthday, addr []byte
}

func (r *ownRow) dest() []any { return append(profileDest(&r.pr), &r.phone, &r.birthday, &r.addr) }

// The personal columns, as named in their additional data.
const (
	colPhone       = "profiles.phone"
	colDateOfBirth = "profiles.date_of_birth"
	colAddress     = "profiles.address"
)

func piiAAD(column string, p auth.Principal) []byte { return seal.AAD(column, p.TenantID, p.UserID) }

// open decrypts r's personal columns for p, its owner.
func (s *ProfileStore) open(ctx context.Context, p auth.Principal, r *ownRow) (profile.Own, error) {
	own := profile.Own{Profile: r.pr}
	text := func(column string, c []byte) (*string, error) {
		if c == nil {
			return nil, nil
		}
		b, err := s.sealer.Open(ctx, c, piiAAD(column, p))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", column, err)
		}
		v := string(b)
		return &v, nil
	}
	var err error
	if own.Phone, err = text(colPhone, r.phone); err != nil {
		return own, err
	}
	if own.DateOfBirth, err = text(colDateOfBirth, r.birthday); err != nil {
		return own, err
	}
	addr, err := text(colAddress, r.addr)
	if err != nil || addr == nil {
		return own, err
	}
	own.Address = new(profile.Address)
	if err := json.Unmarshal([]byte(*addr), own.Address); err != nil {
		return own, fmt.Errorf("open %s: not an address", colAddress)
	}
	return own, nil
}

// sealed is one personal column of a patch: set says whether to change it, value is its new ciphertext
// (nil clears it).
type sealed struct {
	set   bool
	value []byte
}

// sealPatch seals the personal fields present in u; "" (or an empty address) clears.
func (s *ProfileStore) sealPatch(ctx context.Context, p auth.Principal, u profile.UpdateRequest) (phone, birthday, addr sealed, err error) {
	one := func(column string, present bool, plaintext []byte) (sealed, error) {
		if !present {
			return sealed{}, nil
		}
		if len(plaintext) == 0 {
			return sealed{set: true}, nil
		}
		c, err := s.sealer.Seal(ctx, plaintext, piiAAD(column, p))
		if err != nil {
			return sealed{}, fmt.Errorf("seal %s: %w", column, err)
		}
		return sealed{set: true, value: c}, nil
	}
	if phone, err = one(colPhone, u.Phone != nil, []byte(deref(u.Phone))); err != nil {
		return
	}
	if birthday, err = one(colDateOfBirth, u.DateOfBirth != nil, []byte(deref(u.DateOfBirth))); err != nil {
		return
	}
	var addrJSON []byte
	if u.Address != nil && !u.Address.IsZero() {
		if addrJSON, err = json.Marshal(u.Address); err != nil {
			return
		}
	}
	addr, err = one(colAddress, u.Address != nil, addrJSON)
	return
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// meReadSQL reads the caller's own profile in the tenant (row-level security scopes it).
const meReadSQL = `SELECT ` + ownColumns + ` FROM profiles WHERE user_id = $1::uuid`

// Me implements profile.Store. Every call but a user's first finds the profile: it is read as a read
// (ReadOnly, the replica when there is one), one small statement. Only when there is none (or the replica
// has not seen it yet) does the write run: one statement that inserts the profile if the caller is a member
// of the tenant and has none, else reads the one there is. Two first calls racing each other can both miss
// the row (the loser's statement started before the winner committed), so an empty answer is asked once
// more.
func (s *ProfileStore) Me(ctx context.Context, p auth.Principal) (profile.Own, error) {
	var r ownRow
	switch err := s.db.QueryRow(ctx, p, ReadOnly, meReadSQL, []any{p.UserID}, r.dest()...); {
	case err == nil:
		own, err := s.open(ctx, p, &r)
		if err != nil {
			return profile.Own{}, fmt.Errorf("profile store: me: %w", err)
		}
		return own, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return profile.Own{}, fmt.Errorf("profile store: me: %w", err)
	}
	const q = `
WITH ins AS (
    INSERT INTO profiles (tenant_id, user_id, display_name)
    SELECT $1::uuid, $2::uuid, left(coalesce((SELECT u.display_name FROM users u WHERE u.id = $2::uuid), ''), 200)
    WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $2::uuid)
    ON CONFLICT (tenant_id, user_id) DO NOTHING
    RETURNING ` + ownColumns + `
)
SELECT ` + ownColumns + ` FROM ins
UNION ALL
SELECT ` + ownColumns + ` FROM profiles WHERE user_id = $2::uuid AND NOT EXISTS (SELECT 1 FROM ins)`
	for attempt := 0; ; attempt++ {
		err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{p.TenantID, p.UserID}, r.dest()...)
		switch {
		case errors.Is(err, pgx.ErrNoRows) && attempt == 0:
			continue
		case errors.Is(err, pgx.ErrNoRows):
			return profile.Own{}, profile.ErrNotFound
		case err != nil:
			return profile.Own{}, fmt.Errorf("profile store: me: %w", err)
		}
		own, err := s.open(ctx, p, &r)
		if err != nil {
			return profile.Own{}, fmt.Errorf("profile store: me: %w", err)
		}
		return own, nil
	}
}

// UpdateMe implements profile.Store in one statement (an upsert), for members of the tenant only. The
// personal fields are sealed before the statement; only their ciphertext reaches the database.
func (s *ProfileStore) UpdateMe(ctx context.Context, p auth.Principal, u profile.UpdateRequest) (profile.Own, error) {
	const q = `
INSERT INTO profiles AS pr (tenant_id, user_id, display_name, bio, avatar_url, location, phone_enc, date_of_birth_enc, address_enc)
SELECT $1::uuid, $2::uuid,
       coalesce($3::text, left(coalesce((SELECT u.display_name FROM users u WHERE u.id = $2::uuid), ''), 200)),
       nullif($4::text, ''), nullif($5::text, ''), nullif($6::text, ''),
       $8::bytea, $10::bytea, $12::bytea
WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $2::uuid)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
    display_name      = coalesce($3::text, pr.display_name),
    bio               = CASE WHEN $4::text IS NULL THEN pr.bio ELSE nullif($4::text, '') END,
    avatar_url        = CASE WHEN $5::text IS NULL THEN pr.avatar_url ELSE nullif($5::text, '') END,
    location          = CASE WHEN $6::text IS NULL THEN pr.location ELSE nullif($6::text, '') END,
    phone_enc         = CASE WHEN $7::boolean THEN $8::bytea ELSE pr.phone_enc END,
    date_of_birth_enc = CASE WHEN $9::boolean THEN $10::bytea ELSE pr.date_of_birth_enc END,
    address_enc       = CASE WHEN $11::boolean THEN $12::bytea ELSE pr.address_enc END
RETURNING ` + ownColumns
	phone, birthday, addr, err := s.sealPatch(ctx, p, u)
	if err != nil {
		return profile.Own{}, fmt.Errorf("profile store: update me: %w", err)
	}
	var r ownRow
	args := []any{p.TenantID, p.UserID, u.DisplayName, u.Bio, u.AvatarURL, u.Location,
		phone.set, phone.value, birthday.set, birthday.value, addr.set, addr.value}
	err = s.db.QueryRow(ctx, p, ReadWrite, q, args, r.dest()...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return profile.Own{}, profile.ErrNotFound
	case err != nil:
		return profile.Own{}, fmt.Errorf("profile store: update me: %w", err)
	}
	own, err := s.open(ctx, p, &r)
	if err != nil {
		return profile.Own{}, fmt.Errorf("profile store: update me: %w", err)
	}
	return own, nil
}

// Get implements profile.Store. It never selects the personal columns.
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
