package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/stripehook"
)

// StripeEventStore is the ledger of Stripe webhook events (table stripe_events). Its transactions run
// with no tenant and declare themselves with app.stripe_webhook = 'on', the flag the table's
// stripe_webhook policy admits: Stripe events belong to the platform account, and no other transaction
// of the application role can see or write them.
type StripeEventStore struct {
	db *DB
}

var (
	_ stripehook.Ledger         = (*StripeEventStore)(nil)
	_ stripehook.ObjectRecorder = (*StripeEventStore)(nil)
)

// NewStripeEventStore returns the ledger on db.
func NewStripeEventStore(db *DB) *StripeEventStore { return &StripeEventStore{db: db} }

const stripeWebhookFlagSQL = `SELECT set_config('app.stripe_webhook', 'on', true)`

// insertStripeEventSQL records the event unless its id is already there. A concurrent insert of the same
// id waits on the primary key until the first transaction ends, then inserts nothing (it committed) or
// goes ahead (it rolled back): the handler runs once either way.
const insertStripeEventSQL = `
INSERT INTO stripe_events (id, type, tenant_id, livemode, api_version, created_at, payload)
VALUES ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING
RETURNING true`

const markStripeEventProcessedSQL = `UPDATE stripe_events SET processed_at = clock_timestamp() WHERE id = $1`

// Process implements stripehook.Ledger. fn's error is returned unchanged; database failures are returned
// wrapped with %w. Either way nothing is recorded.
func (s *StripeEventStore) Process(ctx context.Context, e stripehook.Event, fn func(tx pgx.Tx) (handled bool, err error)) (bool, error) {
	first := false
	err := s.db.InTx(ctx, auth.Principal{}, func(tx pgx.Tx) error {
		first = false
		if _, err := tx.Exec(ctx, stripeWebhookFlagSQL); err != nil {
			return fmt.Errorf("stripe events: %w", err)
		}
		err := tx.QueryRow(ctx, insertStripeEventSQL,
			e.ID, e.Type, e.TenantID, e.Livemode, e.APIVersion, e.Created, json.RawMessage(e.Payload)).Scan(&first)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // seen before
		}
		if err != nil {
			return fmt.Errorf("stripe events: record %s: %w", e.ID, err)
		}
		handled, err := fn(tx)
		if err != nil {
			first = false
			return err
		}
		if handled {
			if _, err := tx.Exec(ctx, markStripeEventProcessedSQL, e.ID); err != nil {
				return fmt.Errorf("stripe events: mark %s processed: %w", e.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return first, nil
}

const recordStripeObjectSQL = `UPDATE stripe_events SET object_id = $2, object_status = $3 WHERE id = $1`

// RecordObject implements stripehook.ObjectRecorder inside Process's transaction tx. It fails, wrapped with
// %w, when the update fails or the event has no ledger row in tx.
func (s *StripeEventStore) RecordObject(ctx context.Context, tx pgx.Tx, eventID, objectID, status string) error {
	tag, err := tx.Exec(ctx, recordStripeObjectSQL, eventID, objectID, status)
	if err != nil {
		return fmt.Errorf("stripe events: record the object of %s: %w", eventID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("stripe events: record the object of %s: %w", eventID, pgx.ErrNoRows)
	}
	return nil
}
