package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rocker-app/corral/shared/notification"
)

// NotificationStore keeps notifications in the notifications table, inside the caller's transaction
// (a job's), so row-level security confines it to that transaction's tenant.
type NotificationStore struct{}

var _ notification.Store = NotificationStore{}

// Insert implements notification.Store: INSERT ... ON CONFLICT (id) DO NOTHING. A user_id that names no
// user (foreign key violation) returns an error wrapping notification.ErrNoSuchUser.
func (NotificationStore) Insert(ctx context.Context, tx pgx.Tx, n notification.Notification) error {
	const q = `
INSERT INTO notifications (id, tenant_id, user_id, kind, title, body, data)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING`
	var data any
	if len(n.Data) > 0 {
		data = string(n.Data)
	}
	if _, err := tx.Exec(ctx, q, n.ID, n.TenantID, n.UserID, n.Kind, n.Title, n.Body, data); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" && pe.ConstraintName == "notifications_user_id_fkey" {
			return fmt.Errorf("%w: %s", notification.ErrNoSuchUser, n.UserID)
		}
		return fmt.Errorf("postgres: insert notification: %w", err)
	}
	return nil
}
