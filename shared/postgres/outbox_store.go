package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HandoffStore deletes expired rows by id for the cleanup.handoff job (jobs.ExpiredDeleter), inside the
// job's transaction, so row-level security confines it to the job's tenant.
type HandoffStore struct{}

// DeleteExpired deletes those rows ids of table that are expired by before and returns how many it
// deleted: for "outbox", rows published before before (pending rows are never deleted); for
// "notifications", rows created before before. Any other table is an error; database errors are
// returned wrapped.
func (HandoffStore) DeleteExpired(ctx context.Context, tx pgx.Tx, table string, ids []string, before time.Time) (int64, error) {
	var q string
	switch table {
	case "outbox":
		q = `DELETE FROM outbox WHERE id = ANY($1::uuid[]) AND published_at < $2`
	case "notifications":
		q = `DELETE FROM notifications WHERE id = ANY($1::uuid[]) AND created_at < $2`
	default:
		return 0, fmt.Errorf("postgres: delete expired: table %q is not supported", table)
	}
	tag, err := tx.Exec(ctx, q, ids, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}
