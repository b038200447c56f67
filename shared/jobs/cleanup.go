package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CleanupKind is the kind of a cleanup hand-off: the cleanup schedule (or anything else that finds
// expired rows) hands the deletion of one tenant's rows to the jobs queue, one bounded job per tenant and
// table, instead of deleting them all in its own run.
const CleanupKind = "cleanup.handoff"

// Tables a hand-off may name. A row is deleted only if it is still expired when the job runs:
const (
	// CleanupOutbox: outbox rows published before CleanupHandoff.Before.
	CleanupOutbox = "outbox"
	// CleanupNotifications: notifications created before CleanupHandoff.Before.
	CleanupNotifications = "notifications"
)

// MaxCleanupIDs bounds the ids of one hand-off, so one job is one bounded statement.
const MaxCleanupIDs = 1000

// CleanupHandoff is the payload of a cleanup.handoff job: delete the rows ids of Table in the job's
// tenant that are expired by the cutoff Before.
type CleanupHandoff struct {
	Table  string    `json:"table"`
	IDs    []string  `json:"ids"`
	Before time.Time `json:"before"`
}

// Validate checks that Table is one of the Cleanup* tables, that there are 1 to MaxCleanupIDs ids, all
// UUIDs, and that Before is set.
func (c CleanupHandoff) Validate() error {
	switch c.Table {
	case CleanupOutbox, CleanupNotifications:
	default:
		return fmt.Errorf("jobs: cleanup of table %q is not supported", c.Table)
	}
	if len(c.IDs) == 0 || len(c.IDs) > MaxCleanupIDs {
		return fmt.Errorf("jobs: a cleanup hand-off takes 1 to %d ids, got %d", MaxCleanupIDs, len(c.IDs))
	}
	for _, id := range c.IDs {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("jobs: cleanup id %q is not a UUID", id)
		}
	}
	if c.Before.IsZero() {
		return errors.New("jobs: a cleanup hand-off needs a cutoff (before)")
	}
	return nil
}

// ExpiredDeleter deletes expired rows by id inside the caller's transaction (*postgres.HandoffStore).
type ExpiredDeleter interface {
	// DeleteExpired deletes those rows ids of table (a Cleanup* name) that are expired by before, and
	// returns how many it deleted. It fails for any other table.
	DeleteExpired(ctx context.Context, tx pgx.Tx, table string, ids []string, before time.Time) (int64, error)
}

// CleanupJob is the handler of CleanupKind. Row-level security confines the deletion to the job's tenant;
// ids that are gone or not expired (any more) are skipped. Its errors are the deleter's, retried.
func CleanupJob(d ExpiredDeleter) Handler[CleanupHandoff] {
	return func(ctx context.Context, jc JobContext, c CleanupHandoff) error {
		n, err := d.DeleteExpired(ctx, jc.Tx, c.Table, c.IDs, c.Before)
		if err != nil {
			return err
		}
		jc.Log.LogAttrs(ctx, slog.LevelInfo, "cleanup hand-off done", slog.String("table", c.Table),
			slog.Int("asked", len(c.IDs)), slog.Int64("deleted", n))
		return nil
	}
}
