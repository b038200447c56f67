package sqsx

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// onceSQL records a message as processed for the transaction's tenant (NULL outside any tenant). The
// unique constraint (consumer, message_id, tenant_id) NULLS NOT DISTINCT makes a second record a no-op.
const onceSQL = `
INSERT INTO processed_messages (tenant_id, consumer, message_id)
VALUES (nullif(current_setting('app.tenant_id', true), '')::uuid, $1, $2)
ON CONFLICT DO NOTHING`

// Once records that consumer processed the message id (Delivery.ID) within tx, and reports whether this is
// the first time. Call it inside the transaction that makes the message's effect, before the effect:
// when first is false, skip the effect and return nil so the message is deleted; when true, the record
// commits (or rolls back) together with the effect, so a redelivery after a crash before commit is
// processed again and a redelivery after commit is not. The record belongs to the transaction's tenant
// (app.tenant_id, set by postgres.DB.InTx), so the same id under two tenants is two records. An empty
// consumer or id is an error; database errors are returned wrapped. A concurrent delivery of the same id
// waits on the first transaction's row lock and then sees first == false if that transaction commits.
//
// Records are kept in processed_messages until the cleanup job ages them out; keep them longer than a
// message can be redelivered (the dead-letter queue's retention, 14 days, plus time to redrive).
func Once(ctx context.Context, tx pgx.Tx, consumer, id string) (first bool, err error) {
	if consumer == "" || id == "" {
		return false, errors.New("sqsx: Once needs a consumer and a message id")
	}
	tag, err := tx.Exec(ctx, onceSQL, consumer, id)
	if err != nil {
		return false, fmt.Errorf("sqsx: record message %s for %s: %w", id, consumer, err)
	}
	return tag.RowsAffected() == 1, nil
}
