package localrun_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/password"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/profile"
)

// seededAccount is what the seed stored for one account.
type seededAccount struct {
	email          *string
	emailEnc, bidx []byte
	hash           string
	verified       bool
}

func readAccount(t *testing.T, env *platformtest.Env, userID string) seededAccount {
	t.Helper()
	var a seededAccount
	err := env.DB.Owner.QueryRow(context.Background(), `
SELECT u.email, u.email_enc, u.email_bidx, c.password_hash, c.email_verified_at IS NOT NULL
FROM users u JOIN user_credentials c ON c.user_id = u.id WHERE u.id = $1`, userID).
		Scan(&a.email, &a.emailEnc, &a.bidx, &a.hash, &a.verified)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The seed writes accounts as signup does: email sealed and blind-indexed (no clear email), the
// development password hashed, the email verified; and Sunrise's owner's personal data sealed as the
// profile API seals it.
func TestSeedSealsPersonalData(t *testing.T) {
	t.Parallel()
	env := seeded(t)
	ctx := context.Background()
	d := env.Deps
	verified := map[string]bool{} // argon2id is slow under the race detector: each hash is checked once
	for _, u := range localrun.SeedUsers {
		a := readAccount(t, env, u.UserID)
		if a.email != nil {
			t.Errorf("%s: users.email = %q, want NULL", u.Email, *a.email)
		}
		if bytes.Contains(a.emailEnc, []byte(u.Email)) || bytes.Contains(a.emailEnc, []byte("sunrise")) {
			t.Errorf("%s: email_enc holds the address in clear", u.Email)
		}
		got, err := d.Sealer.Open(ctx, a.emailEnc, localrun.EmailAAD(u.UserID))
		if err != nil || string(got) != u.Email {
			t.Errorf("%s: email_enc opens to %q (%v)", u.Email, got, err)
		}
		if !bytes.Equal(a.bidx, d.BlindIndex.Index(u.Email)) {
			t.Errorf("%s: email_bidx is not the blind index of the address", u.Email)
		}
		if !verified[a.hash] {
			ok, _, err := password.Verify(localrun.DevPassword, a.hash)
			if !ok || err != nil {
				t.Errorf("%s: DevPassword does not verify (%v)", u.Email, err)
			}
			verified[a.hash] = true
		}
		if !a.verified {
			t.Errorf("%s: email not verified", u.Email)
		}
	}

	// Through the profile store, as GET /me reads it, as the owner (the application role, under RLS).
	s := postgres.NewProfileStore(d.DB, d.Sealer)
	me, err := s.Me(ctx, auth.Principal{TenantID: localrun.TenantA, UserID: localrun.OwnerA, Roles: []string{auth.RoleOwner}})
	if err != nil {
		t.Fatal(err)
	}
	want := localrun.SeedOwnerAPersonal
	if diff := cmp.Diff(want, profile.UpdateRequest{Phone: me.Phone, DateOfBirth: me.DateOfBirth, Address: me.Address}); diff != "" {
		t.Errorf("Sunrise owner's personal data (-want +got):\n%s", diff)
	}
	var phoneEnc, addrEnc []byte
	if err := env.DB.Owner.QueryRow(ctx, `SELECT phone_enc, address_enc FROM profiles WHERE id = $1`, localrun.ProfileOwnerA).
		Scan(&phoneEnc, &addrEnc); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(phoneEnc, []byte("8595550100")) || bytes.Contains(addrEnc, []byte("Sunrise Lane")) {
		t.Error("the seeded profile holds personal data in clear")
	}
}

// Seeding again changes nothing the first seed wrote; an account seeded before emails were sealed (clear
// email, no blind index) gets its email sealed and indexed.
func TestSeedTwice(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	if _, err := env.DB.Owner.Exec(ctx, `INSERT INTO users (id, email, display_name) VALUES ($1, 'owner@sunrise.test', 'Ada Sunrise')`, localrun.OwnerA); err != nil {
		t.Fatal(err)
	}
	d := env.Deps
	if err := localrun.Seed(ctx, env.DB.Owner, d.Sealer, d.BlindIndex); err != nil {
		t.Fatal(err)
	}
	upgraded := readAccount(t, env, localrun.OwnerA)
	if upgraded.email != nil || !bytes.Equal(upgraded.bidx, d.BlindIndex.Index("owner@sunrise.test")) {
		t.Errorf("an account seeded before: email %v, blind index %x; want NULL and the index", upgraded.email, upgraded.bidx)
	}

	first := map[string]seededAccount{}
	for _, u := range localrun.SeedUsers {
		first[u.UserID] = readAccount(t, env, u.UserID)
	}
	var phoneBefore []byte
	if err := env.DB.Owner.QueryRow(ctx, `SELECT phone_enc FROM profiles WHERE id = $1`, localrun.ProfileOwnerA).Scan(&phoneBefore); err != nil {
		t.Fatal(err)
	}
	if err := localrun.Seed(ctx, env.DB.Owner, d.Sealer, d.BlindIndex); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	for _, u := range localrun.SeedUsers {
		again := readAccount(t, env, u.UserID)
		if !cmp.Equal(first[u.UserID], again, cmp.AllowUnexported(seededAccount{})) {
			t.Errorf("%s: the second seed rewrote the account", u.Email)
		}
	}
	var phoneAfter []byte
	if err := env.DB.Owner.QueryRow(ctx, `SELECT phone_enc FROM profiles WHERE id = $1`, localrun.ProfileOwnerA).Scan(&phoneAfter); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(phoneBefore, phoneAfter) {
		t.Error("the second seed resealed the owner's phone")
	}
}
