package postgres_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/entity"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestEntityStoreSearch(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewEntityStore(db.App)
	ctx := context.Background()

	// Tenant A: Alice (profile), Alpha (horse), A Stables (business), from arrange; and these.
	fixtures := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO horses (id, tenant_id, name, breed, discipline, created_by) VALUES
		    ('00000000-0000-4000-8000-00000000000a', $1, 'Northern Star', 'Friesian', 'dressage', $2),
		    ('00000000-0000-4000-8000-00000000000b', $1, 'North Wind', NULL, NULL, $2)`, []any{w.tenantA, w.userA}},
		{`INSERT INTO businesses (id, tenant_id, name, kind, city) VALUES
		    ('00000000-0000-4000-8000-00000000000c', $1, 'Northfield', 'stable', 'Uppsala'),
		    ('00000000-0000-4000-8000-00000000000d', $1, 'Friesian Imports', 'shop', NULL)`, []any{w.tenantA}},
		{`UPDATE profiles SET location = 'North Uppsala' WHERE tenant_id = $1 AND user_id = $2`, []any{w.tenantA, w.userA}},
		// Tenant B has matching rows too, which A must never see.
		{`INSERT INTO horses (tenant_id, name, breed, created_by) VALUES ($1, 'Northern Lights', 'Friesian', $2)`, []any{w.tenantB, w.userB}},
		{`INSERT INTO businesses (tenant_id, name, kind) VALUES ($1, 'North B Stables', 'stable')`, []any{w.tenantB}},
	}
	for _, f := range fixtures {
		if _, err := db.Owner.Exec(ctx, f.sql, f.args...); err != nil {
			t.Fatalf("%v\n%s", err, f.sql)
		}
	}
	const (
		northernStar = "00000000-0000-4000-8000-00000000000a"
		northWind    = "00000000-0000-4000-8000-00000000000b"
		northfield   = "00000000-0000-4000-8000-00000000000c"
		imports      = "00000000-0000-4000-8000-00000000000d"
	)
	type hit struct{ Type, ID string }

	tests := []struct {
		name  string
		text  string
		types []string
		limit int
		want  []hit
	}{
		{"prefix of the only word", "nor", nil, 10,
			// Equal ranks: by type, then id.
			[]hit{{"business", northfield}, {"horse", northernStar}, {"horse", northWind}, {"profile", ""}}},
		{"whole words and a prefix", "northern st", nil, 10, []hit{{"horse", northernStar}}},
		{"finished last word: no prefix", "northern ", nil, 10, []hit{{"horse", northernStar}}},
		{"phrase", `"north wind"`, nil, 10, []hit{{"horse", northWind}}},
		{"exclusion", "north -wind", nil, 10, []hit{{"profile", ""}}},
		{"name ranks above breed", "friesian", nil, 10, []hit{{"business", imports}, {"horse", northernStar}}},
		{"subtitle fields match", "dressage", nil, 10, []hit{{"horse", northernStar}}},
		{"one type", "nor", []string{entity.TypeBusiness}, 10, []hit{{"business", northfield}}},
		{"two types", "nor", []string{entity.TypeProfile, entity.TypeBusiness}, 10, []hit{{"business", northfield}, {"profile", ""}}},
		{"limit", "friesian", nil, 1, []hit{{"business", imports}}},
		{"no match", "zebra", nil, 10, nil},
		{"only an exclusion", `- " or`, nil, 10, nil},
		{"only punctuation", `?!`, nil, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			types := tt.types
			if types == nil {
				types = entity.Types()
			}
			head, prefix := entity.SplitPrefix(tt.text)
			res, err := s.Search(ctx, w.principalA, entity.Query{Text: tt.text, Head: head, Prefix: prefix, Types: types, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			var got []hit
			for i, r := range res {
				if i > 0 && r.Rank > res[i-1].Rank {
					t.Errorf("result %d ranks %v, above the previous %v", i, r.Rank, res[i-1].Rank)
				}
				h := hit{r.Type, r.ID}
				if r.Type == "profile" {
					h.ID = "" // the profile's id is generated; check it is Alice's by title
					if r.Title != "Alice" || r.Subtitle != "North Uppsala" {
						t.Errorf("profile result = %+v, want Alice in North Uppsala", r)
					}
				}
				got = append(got, h)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s\nfull: %+v", diff, res)
			}
		})
	}
}

// BenchmarkEntityStoreSearch measures a prefix search over 2000 horses and 500 businesses of a tenant.
func BenchmarkEntityStoreSearch(b *testing.B) {
	db := pgtest.New(b)
	w := arrange(b, db.Owner)
	s := postgres.NewEntityStore(db.App)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO horses (tenant_id, name, breed, created_by) SELECT $1, 'Horse ' || i || CASE WHEN i % 10 = 0 THEN ' North' ELSE '' END, 'Arabian', $2 FROM generate_series(1, 2000) i`,
		`INSERT INTO businesses (tenant_id, name, kind, city, created_by) SELECT $1, 'Stable ' || i, 'stable', CASE WHEN i % 5 = 0 THEN 'Northampton' ELSE 'Lund' END, $2 FROM generate_series(1, 500) i`,
		`ANALYZE horses; ANALYZE businesses`,
	} {
		args := []any{w.tenantA, w.userA}
		if q[0] == 'A' {
			args = nil
		}
		if _, err := db.Owner.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	head, prefix := entity.SplitPrefix("nor")
	q := entity.Query{Text: "nor", Head: head, Prefix: prefix, Types: entity.Types(), Limit: 20}
	for b.Loop() {
		res, err := s.Search(ctx, w.principalA, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != 20 {
			b.Fatalf("%d results, want 20", len(res))
		}
	}
}
