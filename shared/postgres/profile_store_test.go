package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/profile"
	"github.com/rocker-app/corral/shared/seal"
)

func TestProfileStoreMe(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewProfileStore(db.App, newSealer(t, "k1:"+newKey(t)))
	ctx := context.Background()

	t.Run("existing profile", func(t *testing.T) {
		t.Parallel()
		pr, err := s.Me(ctx, w.principalA)
		if err != nil {
			t.Fatal(err)
		}
		if pr.UserID != w.userA || pr.DisplayName != "Alice" {
			t.Errorf("Me = %+v, want Alice's profile", pr)
		}
	})

	t.Run("existing profile read from the read pool", func(t *testing.T) {
		t.Parallel()
		// Writes go nowhere (nothing listens on port 1): a profile that exists is answered by the read pool.
		dead, err := postgres.Open(ctx, "postgres://corral_app@127.0.0.1:1/corral?sslmode=disable&connect_timeout=2", 1)
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close()
		read, err := postgres.Open(ctx, db.AppURL, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer read.Close()
		rs := postgres.NewProfileStore(postgres.New(dead, read), newSealer(t, "k1:"+newKey(t)))
		pr, err := rs.Me(ctx, w.principalA)
		if err != nil {
			t.Fatalf("Me with the write pool down: %v, want the profile from the read pool", err)
		}
		if pr.UserID != w.userA || pr.DisplayName != "Alice" {
			t.Errorf("Me = %+v, want Alice's profile", pr)
		}
		// A user without a profile (here one who is not even a member) needs the write: with the write pool
		// down that fails with the database's error, not "not found".
		outsider := auth.Principal{TenantID: w.tenantA, UserID: w.userB, Roles: []string{auth.RoleOwner}}
		if _, err := rs.Me(ctx, outsider); err == nil || errors.Is(err, profile.ErrNotFound) {
			t.Errorf("Me of a user without a profile, write pool down: %v, want a database error", err)
		}
	})

	t.Run("made on first call, concurrently", func(t *testing.T) {
		t.Parallel()
		// userA2 is a member of tenant A without a profile; their user display name is "A2".
		const callers = 8
		got := make([]profile.Own, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { got[i], errs[i] = s.Me(ctx, w.memberA2()) })
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if diff := cmp.Diff(got[0], got[i]); diff != "" {
				t.Errorf("caller %d saw another profile (-first +this):\n%s", i, diff)
			}
		}
		if got[0].DisplayName != "A2" || got[0].UserID != w.userA2 {
			t.Errorf("made profile = %+v, want display name A2 for userA2", got[0])
		}
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE user_id = $1`, w.userA2).Scan(&n); err != nil || n != 1 {
			t.Errorf("profiles of userA2: %d (%v), want 1", n, err)
		}
	})

	t.Run("not a member of the tenant", func(t *testing.T) {
		t.Parallel()
		outsider := auth.Principal{TenantID: w.tenantA, UserID: w.userB, Roles: []string{auth.RoleOwner}}
		if _, err := s.Me(ctx, outsider); !errors.Is(err, profile.ErrNotFound) {
			t.Errorf("Me: err = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateMe(ctx, outsider, profile.UpdateRequest{Bio: addr("hi")}); !errors.Is(err, profile.ErrNotFound) {
			t.Errorf("UpdateMe: err = %v, want ErrNotFound", err)
		}
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE tenant_id = $1 AND user_id = $2`, w.tenantA, w.userB).Scan(&n); err != nil || n != 0 {
			t.Errorf("profiles of an outsider in tenant A: %d (%v), want 0", n, err)
		}
	})
}

func TestProfileStoreUpdateMe(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewProfileStore(db.App, newSealer(t, "k1:"+newKey(t)))
	ctx := context.Background()
	ignoreTimes := cmpopts.IgnoreFields(profile.Profile{}, "ID", "CreatedAt", "UpdatedAt")

	// userA2 has no profile yet: the patch makes it.
	made, err := s.UpdateMe(ctx, w.memberA2(), profile.UpdateRequest{Bio: addr("Rider"), Location: addr("Lund")})
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Profile{UserID: w.userA2, DisplayName: "A2", Bio: addr("Rider"), Location: addr("Lund")}
	if diff := cmp.Diff(want, made.Profile, ignoreTimes); diff != "" {
		t.Errorf("first UpdateMe (-want +got):\n%s", diff)
	}

	updated, err := s.UpdateMe(ctx, w.memberA2(), profile.UpdateRequest{DisplayName: addr("Ann"), Location: addr(""), AvatarURL: addr("https://img.example/a.png")})
	if err != nil {
		t.Fatal(err)
	}
	want = profile.Profile{UserID: w.userA2, DisplayName: "Ann", Bio: addr("Rider"), AvatarURL: addr("https://img.example/a.png")}
	if diff := cmp.Diff(want, updated.Profile, ignoreTimes); diff != "" {
		t.Errorf("second UpdateMe (-want +got):\n%s", diff)
	}
	if updated.ID != made.ID {
		t.Errorf("profile id changed from %s to %s", made.ID, updated.ID)
	}

	got, err := s.Get(ctx, w.principalA, made.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(updated.Profile, got); diff != "" {
		t.Errorf("Get by another member (-want +got):\n%s", diff)
	}
}

func TestProfileStoreTenantIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewProfileStore(db.App, newSealer(t, "k1:"+newKey(t)))
	ctx := context.Background()

	// userA also joins tenant B: one person, two tenants, two separate profiles.
	if _, err := db.Owner.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'member')`, w.tenantB, w.userA); err != nil {
		t.Fatal(err)
	}
	inB := auth.Principal{TenantID: w.tenantB, UserID: w.userA, Roles: []string{auth.RoleMember}}
	if _, err := s.UpdateMe(ctx, inB, profile.UpdateRequest{DisplayName: addr("Alice in B")}); err != nil {
		t.Fatal(err)
	}
	inA, err := s.Me(ctx, w.principalA)
	if err != nil {
		t.Fatal(err)
	}
	if inA.DisplayName != "Alice" {
		t.Errorf("tenant A profile renamed to %q by an update in tenant B", inA.DisplayName)
	}

	var bobID string
	if err := db.Owner.QueryRow(ctx, `SELECT id FROM profiles WHERE user_id = $1`, w.userB).Scan(&bobID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, w.principalA, bobID); !errors.Is(err, profile.ErrNotFound) {
		t.Errorf("Get of tenant B's profile from A: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, inB, bobID); err != nil {
		t.Errorf("Get of tenant B's profile from B: %v", err)
	}
}

// newKey returns a random 32-byte key in base64, for a key list.
func newKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// newSealer returns a sealer over local keys (a PII_LOCAL_KEYS list).
func newSealer(t testing.TB, keys string) *seal.Sealer {
	t.Helper()
	lk, err := seal.ParseLocalKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	return seal.New(lk)
}

func TestProfileStorePersonalFields(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	k1 := "k1:" + newKey(t)
	s := postgres.NewProfileStore(db.App, newSealer(t, k1))

	addrIn := &profile.Address{Line1: "Storgatan 1", PostalCode: "222 22", City: "Lund", Country: "SE"}
	patch := profile.UpdateRequest{Phone: addr("+46701234567"), DateOfBirth: addr("1990-04-01"), Address: addrIn}
	got, err := s.UpdateMe(ctx, w.principalA, patch)
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Own{Phone: addr("+46701234567"), DateOfBirth: addr("1990-04-01"), Address: addrIn}
	ignoreProfile := cmpopts.IgnoreFields(profile.Own{}, "Profile")
	if diff := cmp.Diff(want, got, ignoreProfile); diff != "" {
		t.Errorf("UpdateMe (-want +got):\n%s", diff)
	}
	if me, err := s.Me(ctx, w.principalA); err != nil || !cmp.Equal(got, me) {
		t.Errorf("Me = %+v, %v; want what UpdateMe answered", me, err)
	}

	// The columns hold ciphertext: none of the plaintext's bytes, each bound to its row and column.
	var phone, birthday, address []byte
	if err := db.Owner.QueryRow(ctx, `SELECT phone_enc, date_of_birth_enc, address_enc FROM profiles WHERE user_id = $1`, w.userA).
		Scan(&phone, &birthday, &address); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, plaintext string
		ciphertext      []byte
	}{
		{"phone_enc", "+46701234567", phone},
		{"phone_enc", "46701234567", phone},
		{"date_of_birth_enc", "1990-04-01", birthday},
		{"address_enc", "Storgatan", address},
		{"address_enc", "Lund", address},
	} {
		if len(c.ciphertext) == 0 || bytes.Contains(c.ciphertext, []byte(c.plaintext)) {
			t.Errorf("%s = %q: want ciphertext without %q", c.name, c.ciphertext, c.plaintext)
		}
		if id, err := seal.KeyID(c.ciphertext); err != nil || id != "k1" {
			t.Errorf("%s: KeyID = %q, %v; want a ciphertext under k1", c.name, id, err)
		}
	}
	var n int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM profiles WHERE position(convert_to('1990-04-01', 'UTF8') IN date_of_birth_enc) > 0`).
		Scan(&n); err != nil || n != 0 {
		t.Errorf("rows whose date_of_birth_enc holds the date's bytes: %d (%v), want 0", n, err)
	}

	// A ciphertext moved to another user's row does not open: Me fails rather than show it.
	if _, err := s.UpdateMe(ctx, w.memberA2(), profile.UpdateRequest{Bio: addr("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, `UPDATE profiles SET phone_enc = $1 WHERE user_id = $2`, phone, w.userA2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Me(ctx, w.memberA2()); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Me with another row's phone: err = %v, want ErrInvalidCiphertext", err)
	}
	// And so does one moved to another column of the same row.
	if _, err := db.Owner.Exec(ctx, `UPDATE profiles SET phone_enc = NULL, date_of_birth_enc = $1 WHERE user_id = $2`, phone, w.userA2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Me(ctx, w.memberA2()); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Me with the phone in date_of_birth_enc: err = %v, want ErrInvalidCiphertext", err)
	}

	// Get, by another member, never carries them (the public Profile has no such fields) and the
	// owner's partial patch leaves them alone; "" and {} clear them.
	kept, err := s.UpdateMe(ctx, w.principalA, profile.UpdateRequest{Bio: addr("Rider")})
	if err != nil || !cmp.Equal(want, kept, ignoreProfile) {
		t.Errorf("a patch of bio changed the personal fields: %+v, %v", kept, err)
	}
	cleared, err := s.UpdateMe(ctx, w.principalA, profile.UpdateRequest{Phone: addr(""), DateOfBirth: addr(""), Address: &profile.Address{}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(profile.Own{}, cleared, ignoreProfile); diff != "" {
		t.Errorf("cleared (-want +got):\n%s", diff)
	}
	if err := db.Owner.QueryRow(ctx, `SELECT phone_enc, date_of_birth_enc, address_enc FROM profiles WHERE user_id = $1`, w.userA).
		Scan(&phone, &birthday, &address); err != nil || phone != nil || birthday != nil || address != nil {
		t.Errorf("columns after clearing: %x %x %x (%v), want NULL", phone, birthday, address, err)
	}
}

// Rotating PII_LOCAL_KEYS (a new key in front, the old kept) leaves values sealed under the old key
// readable through the store; new values are sealed under the new key; a key removed too early makes the
// read fail rather than answer without the value.
func TestProfileStoreKeyRotation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	ctx := context.Background()
	k1, k2 := "k1:"+newKey(t), "k2:"+newKey(t)

	before := postgres.NewProfileStore(db.App, newSealer(t, k1))
	if _, err := before.UpdateMe(ctx, w.principalA, profile.UpdateRequest{Phone: addr("+46701234567"), DateOfBirth: addr("1990-04-01")}); err != nil {
		t.Fatal(err)
	}

	after := postgres.NewProfileStore(db.App, newSealer(t, k2+","+k1))
	me, err := after.Me(ctx, w.principalA)
	if err != nil {
		t.Fatalf("Me after rotation: %v", err)
	}
	if deref(me.Phone) != "+46701234567" || deref(me.DateOfBirth) != "1990-04-01" {
		t.Errorf("after rotation: phone %q, date of birth %q; want the values sealed under k1", deref(me.Phone), deref(me.DateOfBirth))
	}
	if _, err := after.UpdateMe(ctx, w.principalA, profile.UpdateRequest{Phone: addr("+4540000000")}); err != nil {
		t.Fatal(err)
	}
	var phone, birthday []byte
	if err := db.Owner.QueryRow(ctx, `SELECT phone_enc, date_of_birth_enc FROM profiles WHERE user_id = $1`, w.userA).Scan(&phone, &birthday); err != nil {
		t.Fatal(err)
	}
	if id, _ := seal.KeyID(phone); id != "k2" {
		t.Errorf("new phone sealed under %q, want k2", id)
	}
	if id, _ := seal.KeyID(birthday); id != "k1" {
		t.Errorf("untouched date of birth sealed under %q, want k1 still", id)
	}
	if me, err = after.Me(ctx, w.principalA); err != nil || deref(me.Phone) != "+4540000000" || deref(me.DateOfBirth) != "1990-04-01" {
		t.Errorf("Me with values under k1 and k2 = %+v, %v", me, err)
	}

	retired := postgres.NewProfileStore(db.App, newSealer(t, k2))
	if _, err := retired.Me(ctx, w.principalA); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Me with k1 removed: err = %v, want ErrUnknownKey", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
