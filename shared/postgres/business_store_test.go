package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/business"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestBusinessStoreCRUD(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()
	member := w.memberA2()

	created, err := s.Create(ctx, member, business.CreateRequest{Name: "Oak Farm", Kind: "stable", City: addr("Uppsala"), Website: addr("")})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := business.Business{ID: created.ID, Name: "Oak Farm", Kind: "stable", City: addr("Uppsala"), CreatedBy: addr(w.userA2)}
	ignoreTimes := cmpopts.IgnoreFields(business.Business{}, "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(want, created, ignoreTimes); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}

	// The creator is the owner member, written in the same transaction.
	members, err := s.Members(ctx, w.principalA, created.ID, business.MemberQuery{Limit: 10})
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	if diff := cmp.Diff([]business.Member{{UserID: w.userA2, Role: "owner"}}, members.Members, cmpopts.IgnoreFields(business.Member{}, "CreatedAt")); diff != "" {
		t.Errorf("members after create (-want +got):\n%s", diff)
	}

	got, err := s.Get(ctx, w.principalA, created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	updated, err := s.Update(ctx, member, created.ID, business.UpdateRequest{Kind: addr("trainer"), City: addr(""), Website: addr("https://oak.example")})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Kind, want.City, want.Website = "trainer", nil, addr("https://oak.example")
	if diff := cmp.Diff(want, updated, ignoreTimes); diff != "" {
		t.Errorf("Update (-want +got):\n%s", diff)
	}

	if err := s.Delete(ctx, member, created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, member, created.ID); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Get after delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Members(ctx, member, created.ID, business.MemberQuery{Limit: 10}); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Members after delete: err = %v, want ErrNotFound", err)
	}
	var left int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM business_members WHERE business_id = $1`, created.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("members left after delete: %d (%v)", left, err)
	}
}

func TestBusinessStoreCreateIsOneTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)

	// A principal whose user does not exist: the business insert succeeds, the member insert violates
	// business_members.user_id's foreign key, and the business must not remain.
	ghost := auth.Principal{TenantID: w.tenantA, UserID: uuid.NewString(), Roles: []string{auth.RoleMember}}
	if _, err := s.Create(context.Background(), ghost, business.CreateRequest{Name: "Ghost Stables", Kind: "stable"}); err == nil {
		t.Fatal("Create for a user that does not exist succeeded")
	}
	var n int
	if err := db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM businesses WHERE name = 'Ghost Stables'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d businesses left behind by a failed create", n)
	}
}

func TestBusinessStorePermissions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()

	// businessA was created by userA, its owner member. Three more members of tenant A join it.
	users := map[string]string{}
	for _, role := range []string{"manager", "staff", "outsider"} {
		id := uuid.NewString()
		users[role] = id
		if _, err := db.Owner.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, id, id+"@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Owner.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'member')`, w.tenantA, id); err != nil {
			t.Fatal(err)
		}
		if role != "outsider" {
			if _, err := s.AddMember(ctx, w.principalA, w.businessA, business.AddMemberRequest{UserID: id, Role: role}); err != nil {
				t.Fatalf("AddMember %s: %v", role, err)
			}
		}
	}
	as := func(role string) auth.Principal {
		return auth.Principal{TenantID: w.tenantA, UserID: users[role], Roles: []string{auth.RoleMember}}
	}

	tests := []struct {
		name string
		p    auth.Principal
		want error
	}{
		{"business manager", as("manager"), nil},
		{"tenant owner", w.principalA, nil},
		{"tenant admin", auth.Principal{TenantID: w.tenantA, UserID: uuid.NewString(), Roles: []string{auth.RoleAdmin}}, nil},
		{"business staff", as("staff"), business.ErrForbidden},
		{"tenant member", as("outsider"), business.ErrForbidden},
		{"tenant B's owner", w.principalB, business.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share businessA.
			_, err := s.Update(ctx, tt.p, w.businessA, business.UpdateRequest{Description: addr(tt.name)})
			if !errors.Is(err, tt.want) {
				t.Errorf("Update: err = %v, want %v", err, tt.want)
			}
			_, err = s.AddMember(ctx, tt.p, w.businessA, business.AddMemberRequest{UserID: w.userA2, Role: "staff"})
			if !errors.Is(err, tt.want) {
				t.Errorf("AddMember: err = %v, want %v", err, tt.want)
			}
			err = s.RemoveMember(ctx, tt.p, w.businessA, w.userA2)
			if !errors.Is(err, tt.want) {
				t.Errorf("RemoveMember: err = %v, want %v", err, tt.want)
			}
			if err := s.Delete(ctx, tt.p, uuid.NewString()); !errors.Is(err, business.ErrNotFound) {
				t.Errorf("Delete of an unknown id: err = %v, want ErrNotFound", err)
			}
		})
	}

	// Staff may not remove others but may leave.
	if err := s.RemoveMember(ctx, as("staff"), w.businessA, users["manager"]); !errors.Is(err, business.ErrForbidden) {
		t.Errorf("staff removes manager: err = %v, want ErrForbidden", err)
	}
	if err := s.RemoveMember(ctx, as("staff"), w.businessA, users["staff"]); err != nil {
		t.Errorf("staff leaves: %v", err)
	}
	if err := s.RemoveMember(ctx, as("staff"), w.businessA, users["staff"]); !errors.Is(err, business.ErrMemberNotFound) {
		t.Errorf("staff leaves twice: err = %v, want ErrMemberNotFound", err)
	}
	if err := s.Delete(ctx, as("outsider"), w.businessA); !errors.Is(err, business.ErrForbidden) {
		t.Errorf("outsider deletes: err = %v, want ErrForbidden", err)
	}
	if err := s.Delete(ctx, as("manager"), w.businessA); err != nil {
		t.Errorf("manager deletes: %v", err)
	}
	var horseBusiness *string
	if err := db.Owner.QueryRow(ctx, `SELECT owner_business_id::text FROM horses WHERE id = $1`, w.horseA).Scan(&horseBusiness); err != nil {
		t.Fatal(err)
	}
	if horseBusiness != nil {
		t.Errorf("horse still owned by the deleted business %s", *horseBusiness)
	}
}

func TestBusinessStoreAddMember(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()

	if _, err := db.Owner.Exec(ctx, `INSERT INTO profiles (tenant_id, user_id, display_name) VALUES ($1, $2, 'Alice Two')`, w.tenantA, w.userA2); err != nil {
		t.Fatal(err)
	}
	m, err := s.AddMember(ctx, w.principalA, w.businessA, business.AddMemberRequest{UserID: w.userA2, Role: "manager"})
	if err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if diff := cmp.Diff(business.Member{UserID: w.userA2, Role: "manager", DisplayName: addr("Alice Two")}, m, cmpopts.IgnoreFields(business.Member{}, "CreatedAt")); diff != "" {
		t.Errorf("AddMember (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, business, user string
		want                 error
	}{
		{"already a member", w.businessA, w.userA2, business.ErrAlreadyMember},
		{"user of another tenant", w.businessA, w.userB, business.ErrNotTenantMember},
		{"unknown user", w.businessA, uuid.NewString(), business.ErrNotTenantMember},
		{"business of another tenant", w.businessB, w.userA2, business.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.AddMember(ctx, w.principalA, tt.business, business.AddMemberRequest{UserID: tt.user, Role: "staff"})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBusinessStoreTenantIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()

	if _, err := s.Get(ctx, w.principalA, w.businessB); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, w.principalA, w.businessB, business.UpdateRequest{Name: addr("Stolen")}); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Update: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, w.principalA, w.businessB); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Members(ctx, w.principalA, w.businessB, business.MemberQuery{Limit: 10}); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("Members: err = %v, want ErrNotFound", err)
	}
	if err := s.RemoveMember(ctx, w.principalA, w.businessB, w.userB); !errors.Is(err, business.ErrNotFound) {
		t.Errorf("RemoveMember: err = %v, want ErrNotFound", err)
	}
	var name string
	var members int
	if err := db.Owner.QueryRow(ctx, `SELECT name, (SELECT count(*) FROM business_members WHERE business_id = $1) FROM businesses WHERE id = $1`, w.businessB).Scan(&name, &members); err != nil {
		t.Fatal(err)
	}
	if name != "B Vets" || members != 1 {
		t.Errorf("tenant B's business is now %q with %d members, want B Vets with 1", name, members)
	}
	page, err := s.List(ctx, w.principalA, business.ListQuery{Fields: []string{"id"}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Businesses) != 1 || page.Businesses[0].ID != w.businessA {
		t.Errorf("List = %+v, want only business A", page.Businesses)
	}
}

func TestBusinessStoreList(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()

	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"stable", "vet", "shop"}
	cities := []string{"Uppsala", "uppsala", "Lund"}
	for i := range 24 {
		if _, err := db.Owner.Exec(ctx, `INSERT INTO businesses (tenant_id, name, kind, city, created_at) VALUES ($1, $2, $3, $4, $5)`,
			w.tenantA, fmt.Sprintf("B%02d", i), kinds[i%3], cities[i%3], base.Add(time.Duration(i/3)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name  string
		q     business.ListQuery
		where string
	}{
		{"all", business.ListQuery{}, `true`},
		{"kind", business.ListQuery{Kind: "vet"}, `kind = 'vet'`},
		{"city, any case", business.ListQuery{City: "UPPSALA"}, `lower(city) = 'uppsala'`},
		{"kind and city", business.ListQuery{Kind: "stable", City: "uppsala"}, `kind = 'stable' AND lower(city) = 'uppsala'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := orderedIDs(t, db.Owner, `SELECT id::text FROM businesses WHERE tenant_id = $1 AND `+tt.where+` ORDER BY created_at DESC, id DESC`, w.tenantA)
			q := tt.q
			q.Fields, q.Limit = []string{"name"}, 4
			got := allPages(t, len(want), func(after *business.Position) ([]string, *business.Position, error) {
				q.After = after
				page, err := s.List(ctx, w.principalA, q)
				if err != nil {
					return nil, nil, err
				}
				var ids []string
				for _, b := range page.Businesses {
					if b.Name == "" || b.Kind != "" || b.City != nil {
						t.Errorf("projection to name read %+v", b)
					}
					ids = append(ids, b.ID)
				}
				return ids, page.Next, nil
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids across pages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBusinessStoreMembersPagination(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewBusinessStore(db.App)
	ctx := context.Background()

	// Eleven more members, all joined at the same instant: the user id orders them.
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 11 {
		id := uuid.NewString()
		if _, err := db.Owner.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, id, id+"@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Owner.Exec(ctx, `INSERT INTO business_members (tenant_id, business_id, user_id, role, created_at) VALUES ($1, $2, $3, 'staff', $4)`,
			w.tenantA, w.businessA, id, at); err != nil {
			t.Fatal(err)
		}
	}
	want := orderedIDs(t, db.Owner, `SELECT user_id::text FROM business_members WHERE business_id = $1 ORDER BY created_at DESC, user_id DESC`, w.businessA)
	got := allPages(t, len(want), func(after *business.Position) ([]string, *business.Position, error) {
		page, err := s.Members(ctx, w.memberA2(), w.businessA, business.MemberQuery{Limit: 5, After: after})
		if err != nil {
			return nil, nil, err
		}
		var ids []string
		for _, m := range page.Members {
			ids = append(ids, m.UserID)
		}
		return ids, page.Next, nil
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members across pages (-want +got):\n%s", diff)
	}
}
