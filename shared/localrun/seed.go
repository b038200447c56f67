package localrun

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/profile"
	"github.com/rocker-app/corral/shared/seal"
)

// The demo data `make dev` seeds, with fixed ids so that events/ files and the README can name them.
// Sunrise Stables (tenant A) and Northwind Equestrian (tenant B) each have an owner and a member;
// Sunrise also has a groom who works at its stable business.
const (
	TenantA       = "11111111-1111-4111-8111-111111111111"
	TenantB       = "22222222-2222-4222-8222-222222222222"
	OwnerA        = "a0000000-0000-4000-8000-000000000001"
	MemberA       = "a0000000-0000-4000-8000-000000000002"
	GroomA        = "a0000000-0000-4000-8000-000000000003"
	OwnerB        = "b0000000-0000-4000-8000-000000000001"
	MemberB       = "b0000000-0000-4000-8000-000000000002"
	HorseA        = "a1000000-0000-4000-8000-000000000001"
	HorseA2       = "a1000000-0000-4000-8000-000000000002"
	HorseB        = "b1000000-0000-4000-8000-000000000001"
	BusinessA     = "a2000000-0000-4000-8000-000000000001"
	BusinessB     = "b2000000-0000-4000-8000-000000000001"
	ProfileOwnerA = "a3000000-0000-4000-8000-000000000001"
)

// DevPassword is the password of every seeded account (email verified), for signing in under `make dev`.
const DevPassword = "correct-horse-battery"

// devPasswordHash is DevPassword hashed once with shared/password's DefaultParams, so that seeding (once
// per test database) costs no argon2id run; every seeded account shares it, salt included, which only
// tells that they share a password the README publishes anyway. The seed test verifies it.
const devPasswordHash = "$argon2id$v=19$m=32768,t=2,p=1$J44XG3ckeweP/tQgMzqNHQ$BYpjz+akPgdjGHPexfe+5rqt//n/nfPygXV/mzELHik"

// SeedUser is one seeded account, for the README and `make token`.
type SeedUser struct {
	Email, UserID, TenantID, Role, DisplayName string
}

// SeedUsers lists the seeded accounts.
var SeedUsers = []SeedUser{
	{"owner@sunrise.test", OwnerA, TenantA, "owner", "Ada Sunrise"},
	{"member@sunrise.test", MemberA, TenantA, "member", "Ben Rider"},
	{"groom@sunrise.test", GroomA, TenantA, "member", "Gus Groom"},
	{"owner@northwind.test", OwnerB, TenantB, "owner", "Cleo Northwind"},
	{"member@northwind.test", MemberB, TenantB, "member", "Dan Groom"},
}

// SeedOwnerAPersonal is the personal data seeded on Sunrise's owner's profile (GET /me shows it).
var SeedOwnerAPersonal = profile.UpdateRequest{
	Phone:       ptr("+18595550100"),
	DateOfBirth: ptr("1980-05-14"),
	Address:     &profile.Address{Line1: "1 Sunrise Lane", PostalCode: "40511", City: "Lexington", Region: "KY", Country: "US"},
}

func ptr[T any](v T) *T { return &v }

// EmailAAD is the additional data of a users.email_enc ciphertext: it binds the address to its user row.
// It must stay what shared/identity seals and opens email addresses with.
func EmailAAD(userID string) []byte { return []byte("users.email|" + userID) }

// seedTenantsSQL inserts the demo tenants, and seedSQL (after the accounts) the rest of the demo data;
// every statement is a no-op when its rows exist, so seeding twice is safe.
const seedTenantsSQL = `INSERT INTO tenants (id, name, slug) VALUES
		('` + TenantA + `', 'Sunrise Stables', 'sunrise'),
		('` + TenantB + `', 'Northwind Equestrian', 'northwind')
	 ON CONFLICT DO NOTHING`

var seedSQL = []string{
	`INSERT INTO memberships (tenant_id, user_id, role) VALUES
		('` + TenantA + `', '` + OwnerA + `', 'owner'),
		('` + TenantA + `', '` + MemberA + `', 'member'),
		('` + TenantA + `', '` + GroomA + `', 'member'),
		('` + TenantB + `', '` + OwnerB + `', 'owner'),
		('` + TenantB + `', '` + MemberB + `', 'member')
	 ON CONFLICT DO NOTHING`,
	`INSERT INTO profiles (id, tenant_id, user_id, display_name, bio, location) VALUES
		('` + ProfileOwnerA + `', '` + TenantA + `', '` + OwnerA + `', 'Ada Sunrise', 'Runs Sunrise Stables.', 'Kentucky'),
		('a3000000-0000-4000-8000-000000000002', '` + TenantA + `', '` + MemberA + `', 'Ben Rider', 'Eventing on weekends.', 'Lexington'),
		('b3000000-0000-4000-8000-000000000001', '` + TenantB + `', '` + OwnerB + `', 'Cleo Northwind', 'Dressage trainer.', 'Oslo')
	 ON CONFLICT DO NOTHING`,
	`INSERT INTO businesses (id, tenant_id, name, kind, description, city, website, created_by) VALUES
		('` + BusinessA + `', '` + TenantA + `', 'Sunrise Stables', 'stable', 'Boarding and lessons.', 'Lexington', 'https://sunrise.example', '` + OwnerA + `'),
		('` + BusinessB + `', '` + TenantB + `', 'Northwind Farrier Service', 'farrier', 'Shoeing and trimming.', 'Oslo', 'https://northwind.example', '` + OwnerB + `')
	 ON CONFLICT DO NOTHING`,
	`INSERT INTO business_members (tenant_id, business_id, user_id, role) VALUES
		('` + TenantA + `', '` + BusinessA + `', '` + OwnerA + `', 'owner'),
		('` + TenantA + `', '` + BusinessA + `', '` + GroomA + `', 'staff'),
		('` + TenantB + `', '` + BusinessB + `', '` + OwnerB + `', 'owner')
	 ON CONFLICT DO NOTHING`,
	`INSERT INTO horses (id, tenant_id, name, breed, sex, color, birth_year, discipline, description, owner_user_id, owner_business_id, created_by) VALUES
		('` + HorseA + `', '` + TenantA + `', 'Midnight Star', 'Thoroughbred', 'mare', 'black', 2015, 'eventing', 'Bold cross-country.', '` + OwnerA + `', NULL, '` + OwnerA + `'),
		('` + HorseA2 + `', '` + TenantA + `', 'Copper Penny', 'Quarter Horse', 'gelding', 'chestnut', 2012, 'western', 'Lesson horse.', NULL, '` + BusinessA + `', '` + OwnerA + `'),
		('` + HorseB + `', '` + TenantB + `', 'Fjord Frost', 'Fjord', 'stallion', 'dun', 2018, 'dressage', 'Steady and sweet.', '` + OwnerB + `', NULL, '` + OwnerB + `')
	 ON CONFLICT DO NOTHING`,
}

// seedUserSQL inserts a seeded account with its email sealed and blind-indexed (users.email stays NULL,
// as for accounts made by signup); a row seeded before emails were sealed gets them.
const seedUserSQL = `
INSERT INTO users (id, display_name, email_enc, email_bidx) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET email = NULL, email_enc = EXCLUDED.email_enc, email_bidx = EXCLUDED.email_bidx
WHERE users.email_bidx IS NULL`

// seedCredentialsSQL gives the seeded accounts DevPassword and a verified email, unless they have
// credentials.
const seedCredentialsSQL = `
INSERT INTO user_credentials (user_id, password_hash, email_verified_at)
SELECT id, $2, now() FROM unnest($1::uuid[]) AS id
ON CONFLICT (user_id) DO NOTHING`

// Seed writes the demo data through an owner (superuser) pool: in one transaction the accounts (emails
// sealed with sealer under EmailAAD and indexed with index; DevPassword as an argon2id hash) and
// the tenants, profiles, businesses and horses; then SeedOwnerAPersonal on Sunrise's owner's profile through
// the profile store, sealed as the API seals it. Rows already there are left alone, so seeding twice is
// safe and keeps what the demo users changed. Errors are the database's or the sealer's.
func Seed(ctx context.Context, owner *pgxpool.Pool, sealer *seal.Sealer, index *seal.BlindIndex) error {
	err := pgx.BeginFunc(ctx, owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, seedTenantsSQL); err != nil {
			return fmt.Errorf("localrun: seed: %w", err)
		}
		for _, u := range SeedUsers {
			emailEnc, err := sealer.Seal(ctx, []byte(u.Email), EmailAAD(u.UserID))
			if err != nil {
				return fmt.Errorf("localrun: seed: seal %s: %w", u.Email, err)
			}
			if _, err := tx.Exec(ctx, seedUserSQL, u.UserID, u.DisplayName, emailEnc, index.Index(u.Email)); err != nil {
				return fmt.Errorf("localrun: seed %s: %w", u.Email, err)
			}
		}
		if _, err := tx.Exec(ctx, seedCredentialsSQL, seedUserIDs(), devPasswordHash); err != nil {
			return fmt.Errorf("localrun: seed credentials: %w", err)
		}
		for _, q := range seedSQL {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("localrun: seed: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var unset bool
	if err := owner.QueryRow(ctx, `SELECT phone_enc IS NULL AND date_of_birth_enc IS NULL AND address_enc IS NULL FROM profiles WHERE id = $1`,
		ProfileOwnerA).Scan(&unset); err != nil {
		return fmt.Errorf("localrun: seed: %w", err)
	}
	if !unset {
		return nil
	}
	store := postgres.NewProfileStore(postgres.New(owner, nil), sealer)
	ownerA := auth.Principal{TenantID: TenantA, UserID: OwnerA, Roles: []string{auth.RoleOwner}}
	if _, err := store.UpdateMe(ctx, ownerA, SeedOwnerAPersonal); err != nil {
		return fmt.Errorf("localrun: seed personal data: %w", err)
	}
	return nil
}

func seedUserIDs() []string {
	ids := make([]string, len(SeedUsers))
	for i, u := range SeedUsers {
		ids[i] = u.UserID
	}
	return ids
}
