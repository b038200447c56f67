package localrun

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// SeedUser is one seeded account, for the README and `make token`.
type SeedUser struct {
	Email, UserID, TenantID, Role string
}

// SeedUsers lists the seeded accounts.
var SeedUsers = []SeedUser{
	{"owner@sunrise.test", OwnerA, TenantA, "owner"},
	{"member@sunrise.test", MemberA, TenantA, "member"},
	{"groom@sunrise.test", GroomA, TenantA, "member"},
	{"owner@northwind.test", OwnerB, TenantB, "owner"},
	{"member@northwind.test", MemberB, TenantB, "member"},
}

// seedSQL inserts the demo data; every statement is a no-op when its rows exist, so seeding twice is safe.
var seedSQL = []string{
	`INSERT INTO tenants (id, name, slug) VALUES
		('` + TenantA + `', 'Sunrise Stables', 'sunrise'),
		('` + TenantB + `', 'Northwind Equestrian', 'northwind')
	 ON CONFLICT DO NOTHING`,
	`INSERT INTO users (id, email, display_name) VALUES
		('` + OwnerA + `', 'owner@sunrise.test', 'Ada Sunrise'),
		('` + MemberA + `', 'member@sunrise.test', 'Ben Rider'),
		('` + GroomA + `', 'groom@sunrise.test', 'Gus Groom'),
		('` + OwnerB + `', 'owner@northwind.test', 'Cleo Northwind'),
		('` + MemberB + `', 'member@northwind.test', 'Dan Groom')
	 ON CONFLICT DO NOTHING`,
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

// Seed writes the demo data through an owner (superuser) pool, in one transaction.
func Seed(ctx context.Context, owner *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, owner, func(tx pgx.Tx) error {
		for _, q := range seedSQL {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("localrun: seed: %w", err)
			}
		}
		return nil
	})
}
