package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/entity"
)

// EntityStore searches profiles, horses and businesses through their search columns and GIN indexes. Row-
// level security confines every result to the principal's tenant.
type EntityStore struct {
	db *DB
}

var _ entity.Store = (*EntityStore)(nil)

// NewEntityStore returns a store on db.
func NewEntityStore(db *DB) *EntityStore { return &EntityStore{db: db} }

// Search implements entity.Store in one read-only statement. The tsquery is the websearch query, or'ed,
// when the last word is a prefix, with (head AND prefix:*). The prefix holds only letters and digits
// (entity.SplitPrefix), so appending ":*" to it is valid to_tsquery input. Each table's branch is switched
// on or off by the type list, which the planner evaluates once. A query with no words, or with only
// excluded ones, finds nothing (rather than everything).
func (s *EntityStore) Search(ctx context.Context, p auth.Principal, q entity.Query) ([]entity.Result, error) {
	const sql = `
WITH q AS MATERIALIZED (
    SELECT query FROM (
        SELECT CASE
            WHEN $2 = '' THEN websearch_to_tsquery('simple', $1)
            WHEN btrim($3) = '' THEN to_tsquery('simple', $2 || ':*')
            ELSE websearch_to_tsquery('simple', $1)
                 || (websearch_to_tsquery('simple', $3) && to_tsquery('simple', $2 || ':*'))
        END AS query
    ) built
    WHERE querytree(query) NOT IN ('', 'T') -- nothing to look for, or only exclusions: no results
)
SELECT type, id, title, subtitle, rank FROM (
    SELECT 'profile' AS type, pr.id, pr.display_name AS title, coalesce(pr.location, '') AS subtitle,
           ts_rank(pr.search, q.query) AS rank
    FROM profiles pr, q
    WHERE 'profile' = ANY ($4::text[]) AND pr.search @@ q.query
    UNION ALL
    SELECT 'horse', h.id, h.name, concat_ws(' · ', h.breed, h.discipline), ts_rank(h.search, q.query)
    FROM horses h, q
    WHERE 'horse' = ANY ($4::text[]) AND h.search @@ q.query
    UNION ALL
    SELECT 'business', b.id, b.name, concat_ws(' · ', b.kind, b.city), ts_rank(b.search, q.query)
    FROM businesses b, q
    WHERE 'business' = ANY ($4::text[]) AND b.search @@ q.query
) found
ORDER BY rank DESC, type, id
LIMIT $5`
	args := []any{q.Text, q.Prefix, q.Head, q.Types, q.Limit}
	var out []entity.Result
	err := s.db.Query(ctx, p, ReadOnly, sql, args, func(rows pgx.Rows) error {
		var r entity.Result
		if err := rows.Scan(&r.Type, &r.ID, &r.Title, &r.Subtitle, &r.Rank); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("entity store: search: %w", err)
	}
	return out, nil
}
