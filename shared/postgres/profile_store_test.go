package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/profile"
)

func TestProfileStoreMe(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewProfileStore(db.App)
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

	t.Run("made on first call, concurrently", func(t *testing.T) {
		t.Parallel()
		// userA2 is a member of tenant A without a profile; their user display name is "A2".
		const callers = 8
		got := make([]profile.Profile, callers)
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
	s := postgres.NewProfileStore(db.App)
	ctx := context.Background()
	ignoreTimes := cmpopts.IgnoreFields(profile.Profile{}, "ID", "CreatedAt", "UpdatedAt")

	// userA2 has no profile yet: the patch makes it.
	made, err := s.UpdateMe(ctx, w.memberA2(), profile.UpdateRequest{Bio: addr("Rider"), Location: addr("Lund")})
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Profile{UserID: w.userA2, DisplayName: "A2", Bio: addr("Rider"), Location: addr("Lund")}
	if diff := cmp.Diff(want, made, ignoreTimes); diff != "" {
		t.Errorf("first UpdateMe (-want +got):\n%s", diff)
	}

	updated, err := s.UpdateMe(ctx, w.memberA2(), profile.UpdateRequest{DisplayName: addr("Ann"), Location: addr(""), AvatarURL: addr("https://img.example/a.png")})
	if err != nil {
		t.Fatal(err)
	}
	want = profile.Profile{UserID: w.userA2, DisplayName: "Ann", Bio: addr("Rider"), AvatarURL: addr("https://img.example/a.png")}
	if diff := cmp.Diff(want, updated, ignoreTimes); diff != "" {
		t.Errorf("second UpdateMe (-want +got):\n%s", diff)
	}
	if updated.ID != made.ID {
		t.Errorf("profile id changed from %s to %s", made.ID, updated.ID)
	}

	got, err := s.Get(ctx, w.principalA, made.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(updated, got); diff != "" {
		t.Errorf("Get by another member (-want +got):\n%s", diff)
	}
}

func TestProfileStoreTenantIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewProfileStore(db.App)
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
