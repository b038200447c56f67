package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestHorseStoreCRUD(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	created, err := s.Create(ctx, w.principalA, horse.CreateRequest{
		Name: "Comet", Breed: addr("Arabian"), Sex: "mare", Color: addr(""), BirthYear: addr(2015),
		OwnerUserID: addr(w.userA2), OwnerBusinessID: addr(w.businessA),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := horse.Horse{
		ID: created.ID, Name: "Comet", Breed: addr("Arabian"), Sex: "mare", BirthYear: addr(2015),
		OwnerUserID: addr(w.userA2), OwnerBusinessID: addr(w.businessA), CreatedBy: w.userA,
	}
	ignoreTimes := cmpopts.IgnoreFields(horse.Horse{}, "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(want, created, ignoreTimes); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}
	if created.CreatedAt.IsZero() {
		t.Error("Create: created_at is zero")
	}

	got, err := s.Get(ctx, w.memberA2(), created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	updated, err := s.Update(ctx, w.principalA, created.ID, horse.UpdateRequest{
		Name: addr("Comet II"), Breed: addr(""), Discipline: addr("dressage"), OwnerBusinessID: addr(""),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Name, want.Breed, want.Discipline, want.OwnerBusinessID = "Comet II", nil, addr("dressage"), nil
	if diff := cmp.Diff(want, updated, ignoreTimes); diff != "" {
		t.Errorf("Update (-want +got):\n%s", diff)
	}
	if updated.UpdatedAt.Before(created.UpdatedAt) {
		t.Errorf("updated_at went back: %v before %v", updated.UpdatedAt, created.UpdatedAt)
	}

	if err := s.Delete(ctx, w.principalA, created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, w.principalA, created.ID); !errors.Is(err, horse.ErrNotFound) {
		t.Errorf("Get after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, w.principalA, created.ID); !errors.Is(err, horse.ErrNotFound) {
		t.Errorf("Delete twice: err = %v, want ErrNotFound", err)
	}
}

func TestHorseStoreOwners(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	tests := []struct {
		name                string
		ownerUser, ownerBiz *string
		want                error
	}{
		{"member of the tenant", addr(w.userA2), nil, nil},
		{"business of the tenant", nil, addr(w.businessA), nil},
		{"no owner", nil, nil, nil},
		{"user of another tenant", addr(w.userB), nil, horse.ErrOwnerUserNotMember},
		{"unknown user", addr(uuid.NewString()), nil, horse.ErrOwnerUserNotMember},
		{"business of another tenant", nil, addr(w.businessB), horse.ErrOwnerBusinessNotFound},
		{"unknown business", nil, addr(uuid.NewString()), horse.ErrOwnerBusinessNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "X", Sex: "unknown", OwnerUserID: tt.ownerUser, OwnerBusinessID: tt.ownerBiz})
			if !errors.Is(err, tt.want) {
				t.Errorf("Create: err = %v, want %v", err, tt.want)
			}
			_, err = s.Update(ctx, w.principalA, w.horseA, horse.UpdateRequest{OwnerUserID: tt.ownerUser, OwnerBusinessID: tt.ownerBiz, Name: addr("Alpha")})
			if !errors.Is(err, tt.want) {
				t.Errorf("Update: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Create builds the horse it returns (and whose JSON it stores as the event's payload and the recorded
// body) before the write: it must be the row Postgres keeps, field for field, whatever the input's form.
func TestHorseCreateReturnsStoredRow(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()
	upper := func(s string) *string { return addr(strings.ToUpper(s)) }
	for name, in := range map[string]horse.CreateRequest{
		"plain":                {Name: "Plain", Sex: "mare"},
		"every field":          {Name: "Full", Sex: "gelding", Breed: addr("Arabian"), Color: addr("bay"), BirthYear: addr(2015), Discipline: addr("dressage"), Description: addr("<b>\"quoted\"</b> & ünïcode \u2028 😀"), OwnerUserID: addr(w.userA2), OwnerBusinessID: addr(w.businessA)},
		"empty texts are null": {Name: "Empty", Sex: "stallion", Breed: addr(""), Color: addr(""), Discipline: addr(""), Description: addr("")},
		"upper-case owner ids": {Name: "Upper", Sex: "unknown", OwnerUserID: upper(w.userA), OwnerBusinessID: upper(w.businessA)},
		"id chosen by handler": {Name: "Chosen", Sex: "mare", ID: strings.ToUpper(uuid.NewString())},
		"spaces kept as given": {Name: "  Spaced  ", Sex: "mare", Breed: addr(" "), Description: addr("line\nbreak\ttab")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Create(ctx, w.principalA, in)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := s.Get(ctx, w.principalA, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("Create returned (-stored +returned):\n%s", diff)
			}
			if in.ID != "" && got.ID != strings.ToLower(in.ID) {
				t.Errorf("id = %s, want the chosen %s", got.ID, in.ID)
			}
		})
	}
	// An id that is no UUID fails before anything is written.
	if _, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: "Bad", Sex: "mare", OwnerUserID: addr("not-a-uuid")}); err == nil {
		t.Error("Create with an owner id that is no UUID succeeded")
	}
}

func TestHorseStorePermissions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	// horseA was created by userA; userA2 is a plain member.
	member := w.memberA2()
	if _, err := s.Update(ctx, member, w.horseA, horse.UpdateRequest{Name: addr("Mine now")}); !errors.Is(err, horse.ErrForbidden) {
		t.Errorf("member updates another's horse: err = %v, want ErrForbidden", err)
	}
	if err := s.Delete(ctx, member, w.horseA); !errors.Is(err, horse.ErrForbidden) {
		t.Errorf("member deletes another's horse: err = %v, want ErrForbidden", err)
	}
	if got := horseName(t, db.Owner, w.horseA); got != "Alpha" {
		t.Errorf("horse name after refused update = %q, want Alpha", got)
	}

	own, err := s.Create(ctx, member, horse.CreateRequest{Name: "Own", Sex: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, member, own.ID, horse.UpdateRequest{Name: addr("Own 2")}); err != nil {
		t.Errorf("creator updates: %v", err)
	}
	admin := auth.Principal{TenantID: w.tenantA, UserID: uuid.NewString(), Roles: []string{auth.RoleAdmin}}
	if _, err := s.Update(ctx, admin, own.ID, horse.UpdateRequest{Sex: addr("gelding")}); err != nil {
		t.Errorf("admin updates: %v", err)
	}
	moderator := auth.Principal{TenantID: w.tenantA, UserID: uuid.NewString(), Roles: []string{auth.RoleModerator}}
	if err := s.Delete(ctx, moderator, own.ID); !errors.Is(err, horse.ErrForbidden) {
		t.Errorf("moderator deletes: err = %v, want ErrForbidden", err)
	}
	if err := s.Delete(ctx, admin, own.ID); err != nil {
		t.Errorf("admin deletes: %v", err)
	}
}

func TestHorseStoreTenantIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	// principalA is a tenant owner: were the row visible, it could change it.
	if _, err := s.Get(ctx, w.principalA, w.horseB); !errors.Is(err, horse.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, w.principalA, w.horseB, horse.UpdateRequest{Name: addr("Stolen")}); !errors.Is(err, horse.ErrNotFound) {
		t.Errorf("Update: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, w.principalA, w.horseB); !errors.Is(err, horse.ErrNotFound) {
		t.Errorf("Delete: err = %v, want ErrNotFound", err)
	}
	if got := horseName(t, db.Owner, w.horseB); got != "Bravo" {
		t.Errorf("tenant B's horse is now named %q, want Bravo", got)
	}
	page, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: horse.Fields(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range page.Horses {
		ids = append(ids, h.ID)
	}
	if diff := cmp.Diff([]string{w.horseA}, ids); diff != "" {
		t.Errorf("List ids (-want +got):\n%s", diff)
	}
}

func TestHorseStoreListPagination(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	// 30 more horses in tenant A, in pairs that share a created_at, so the id breaks ties across pages.
	base := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	for i := range 30 {
		at := base.Add(time.Duration(i/2) * time.Minute)
		if _, err := db.Owner.Exec(ctx, `INSERT INTO horses (tenant_id, name, created_by, created_at) VALUES ($1, $2, $3, $4)`,
			w.tenantA, fmt.Sprintf("H%02d", i), w.userA, at); err != nil {
			t.Fatal(err)
		}
	}
	want := orderedIDs(t, db.Owner, `SELECT id::text FROM horses WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, w.tenantA)

	for _, limit := range []int{1, 7, 31, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			got := allPages(t, len(want), func(after *horse.Position) ([]string, *horse.Position, error) {
				page, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: []string{"id", "name"}, Limit: limit, After: after})
				if err != nil {
					return nil, nil, err
				}
				if len(page.Horses) > limit {
					t.Fatalf("page of %d rows, limit %d", len(page.Horses), limit)
				}
				var ids []string
				for _, h := range page.Horses {
					ids = append(ids, h.ID)
				}
				return ids, page.Next, nil
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids across pages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHorseStoreListProjectionAndFilters(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()

	mk := func(name string, breed *string, ownerUser, ownerBiz *string) string {
		t.Helper()
		h, err := s.Create(ctx, w.principalA, horse.CreateRequest{Name: name, Breed: breed, Sex: "unknown", OwnerUserID: ownerUser, OwnerBusinessID: ownerBiz})
		if err != nil {
			t.Fatal(err)
		}
		return h.ID
	}
	frisian := mk("F", addr("Friesian"), addr(w.userA2), nil)
	arab := mk("A", addr("Arabian"), addr(w.userA), addr(w.businessA))

	t.Run("projection", func(t *testing.T) {
		t.Parallel()
		page, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: []string{"id", "name"}, OwnerUserID: w.userA2, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := []horse.Horse{{ID: frisian, Name: "F"}}
		if diff := cmp.Diff(want, page.Horses, cmpopts.IgnoreFields(horse.Horse{}, "CreatedAt")); diff != "" {
			t.Errorf("projected horses (-want +got):\n%s", diff)
		}
		if page.Horses[0].CreatedAt.IsZero() {
			t.Error("created_at, which the cursor needs, was not read")
		}
	})

	filters := []struct {
		name string
		q    horse.ListQuery
		want []string
	}{
		{"owner user", horse.ListQuery{OwnerUserID: w.userA2}, []string{frisian}},
		{"owner business", horse.ListQuery{OwnerBusinessID: w.businessA}, []string{arab, w.horseA}},
		{"breed, any case", horse.ListQuery{Breed: "friESIAN"}, []string{frisian}},
		{"two filters", horse.ListQuery{OwnerBusinessID: w.businessA, Breed: "arabian"}, []string{arab}},
		{"no match", horse.ListQuery{OwnerUserID: w.userB}, nil},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.q.Fields, tt.q.Limit = []string{"id"}, 10
			page, err := s.List(ctx, w.principalA, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range page.Horses {
				got = append(got, h.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func horseName(t testing.TB, owner *pgxpool.Pool, id string) string {
	t.Helper()
	var name string
	if err := owner.QueryRow(context.Background(), `SELECT name FROM horses WHERE id = $1`, id).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// BenchmarkHorseStore measures the hot reads: a keyset page of 20 (first and a later page) and a get.
func BenchmarkHorseStore(b *testing.B) {
	db := pgtest.New(b)
	w := arrange(b, db.Owner)
	s := postgres.NewHorseStore(db.App)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `INSERT INTO horses (tenant_id, name, breed, created_by, created_at)
		SELECT $1, 'H' || i, 'Arabian', $2, now() - make_interval(secs => i) FROM generate_series(1, 2000) i`, w.tenantA, w.userA); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Owner.Exec(ctx, `ANALYZE horses`); err != nil {
		b.Fatal(err)
	}
	first, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: horse.Fields(), Limit: 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("list first page", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: horse.Fields(), Limit: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list next page, projected", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.List(ctx, w.principalA, horse.ListQuery{Fields: []string{"id", "name"}, Limit: 20, After: first.Next}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Get(ctx, w.principalA, w.horseA); err != nil {
				b.Fatal(err)
			}
		}
	})
	name := "Alpha"
	b.Run("update", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Update(ctx, w.principalA, w.horseA, horse.UpdateRequest{Name: &name}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same update with an Idempotency-Key whose handler declared its response: the statement also
	// stores the finished record (its cost over "update" is the record's).
	store := postgres.NewIdempotencyStore(db.App)
	b.Run("update, recorded", func(b *testing.B) {
		for b.Loop() {
			rctx, _ := recordedCall(store, w.tenantA, w.userA, "PATCH /horses/{id}", "bench-"+uuid.NewString(), http.StatusOK, nil)
			if _, err := s.Update(rctx, w.principalA, w.horseA, horse.UpdateRequest{Name: &name}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
