package loadtest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The load-test tenants: fixed ids, apart from the demo tenants of `make dev`.
const (
	LoadTenantA = "10ad0000-0000-4000-8000-000000000001"
	LoadTenantB = "10ad0000-0000-4000-8000-000000000002"
	// SeedHorses is how many horses the seed gives each load tenant, so the first lists are not empty.
	SeedHorses = 100
	// SeedOwners is how many users own (and created) the seeded horses: horse i belongs to user i%50+1,
	// so users 1 to 50 can each edit two of them.
	SeedOwners = 50
)

// Tenant is a seeded load-test tenant: its users (user 0 is the shared rate-limit probe user, the others
// run the journeys) and its seeded horses.
type Tenant struct {
	ID     string
	Probe  *User
	Users  []*User
	Horses []string
	// Owned maps a user id to the seeded horses that user created (and so may edit).
	Owned map[string][]string
}

// tenantSeed names a tenant's rows; n is 1 or 2.
func tenantSeed(n int) (id, slug string) {
	if n == 1 {
		return LoadTenantA, "loadtest-a"
	}
	return LoadTenantB, "loadtest-b"
}

// UserID is the fixed id of user i of load tenant n (1 or 2).
func UserID(n, i int) string { return fmt.Sprintf("10ad%04d-0000-4000-8000-%012d", n, i) }

// HorseID is the fixed id of seeded horse i of load tenant n.
func HorseID(n, i int) string { return fmt.Sprintf("10ad%04d-0001-4000-8000-%012d", n, i) }

// UserEmail is the email of user i of load tenant n.
func UserEmail(n, i int) string { return fmt.Sprintf("load-%d@loadtest-%c.test", i, 'a'+rune(n-1)) }

const seedTenantSQL = `
INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING`

// Users 0..$3-1 of the tenant: ids and emails as UserID and UserEmail make them.
const seedUsersSQL = `
INSERT INTO users (id, email, display_name)
SELECT format('10ad%s-0000-4000-8000-%s', lpad($1::int::text, 4, '0'), lpad(i::text, 12, '0'))::uuid,
       format('load-%s@%s.test', i, $3::text), format('Load user %s', i)
FROM generate_series(0, $2::int - 1) AS i
ON CONFLICT DO NOTHING`

const seedMembershipsSQL = `
INSERT INTO memberships (tenant_id, user_id, role)
SELECT $1::uuid, format('10ad%s-0000-4000-8000-%s', lpad($2::int::text, 4, '0'), lpad(i::text, 12, '0'))::uuid, 'member'
FROM generate_series(0, $3::int - 1) AS i
ON CONFLICT DO NOTHING`

const seedHorsesSQL = `
INSERT INTO horses (id, tenant_id, name, sex, breed, owner_user_id, created_by)
SELECT format('10ad%s-0001-4000-8000-%s', lpad($2::int::text, 4, '0'), lpad(i::text, 12, '0'))::uuid, $1::uuid,
       format('Seed horse %s', i), 'mare', 'Fjord', o.id, o.id
FROM generate_series(0, $3::int - 1) AS i,
     LATERAL (SELECT format('10ad%s-0000-4000-8000-%s', lpad($2::int::text, 4, '0'), lpad((i % $4::int + 1)::text, 12, '0'))::uuid AS id) AS o
ON CONFLICT DO NOTHING`

// Seed makes the two load tenants with usersPerTenant (at least SeedOwners) journey users each (plus one probe user each) and
// SeedHorses horses each, through a superuser (owner) URL that bypasses row-level security. It is
// idempotent: rows that exist are kept. It returns the tenants, tokens not yet set.
func Seed(ctx context.Context, ownerURL string, usersPerTenant int) ([]Tenant, error) {
	if usersPerTenant < SeedOwners {
		return nil, fmt.Errorf("loadtest: seed: at least %d users per tenant", SeedOwners)
	}
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return nil, fmt.Errorf("loadtest: seed: %w", err)
	}
	defer conn.Close(ctx)
	var out []Tenant
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for n := 1; n <= 2; n++ {
			id, slug := tenantSeed(n)
			if _, err := tx.Exec(ctx, seedTenantSQL, id, slug); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, seedUsersSQL, n, usersPerTenant+1, "loadtest-"+string('a'+rune(n-1))); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, seedMembershipsSQL, id, n, usersPerTenant+1); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, seedHorsesSQL, id, n, SeedHorses, SeedOwners); err != nil {
				return err
			}
			out = append(out, Tenants(usersPerTenant)[n-1])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loadtest: seed: %w", err)
	}
	return out, nil
}

// Tenants returns the two load tenants as Seed makes them, without touching the database.
func Tenants(usersPerTenant int) []Tenant {
	var out []Tenant
	for n := 1; n <= 2; n++ {
		id, _ := tenantSeed(n)
		t := Tenant{ID: id, Probe: &User{ID: UserID(n, 0), TenantID: id, Email: UserEmail(n, 0)}, Owned: map[string][]string{}}
		for i := 1; i <= usersPerTenant; i++ {
			t.Users = append(t.Users, &User{ID: UserID(n, i), TenantID: id, Email: UserEmail(n, i)})
		}
		for i := range SeedHorses {
			t.Horses = append(t.Horses, HorseID(n, i))
			owner := UserID(n, i%SeedOwners+1)
			t.Owned[owner] = append(t.Owned[owner], HorseID(n, i))
		}
		out = append(out, t)
	}
	return out
}
