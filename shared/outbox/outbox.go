// Package outbox is the transactional outbox: a job or event is written to the outbox table in the same
// transaction as the change it announces (Add), so it exists if and only if the change committed. After
// the commit the writer may publish it at once (Outbox.PublishNow, best effort); the outbox-relay function
// (Relay, every minute) publishes whatever is left, oldest first, in batches locked with
// FOR UPDATE SKIP LOCKED, and marks each row published in the same transaction once the queue accepted it.
// When the queue cannot be reached nothing is lost: the rows stay pending, with attempts and last_error
// recorded, and go out on a later run.
//
// Delivery is at least once: a row whose send succeeded but whose "published" mark did not commit is sent
// again, with the same id. Every message carries its entry's id (sqsx.Message.ID, the corral-id attribute,
// and Envelope.ID), and consumers dedupe on it (sqsx.Once).
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/sqsx"
)

// MaxPayloadBytes bounds an entry's JSON payload, so its envelope fits in one SQS message (256 KiB) with
// room for the envelope's other fields.
const MaxPayloadBytes = 240 << 10

// Publisher sends messages to a queue by name ("jobs", "webhooks"). *sqsx.Publisher implements it. Send
// returns nil only when the queue accepted every message; on error any of them may have been sent (the
// relay then sends them again, and consumers dedupe).
type Publisher interface {
	Send(ctx context.Context, queue string, msgs ...sqsx.Message) error
}

// Entry is one job or event to publish.
type Entry struct {
	// ID identifies the entry, its message (sqsx.Message.ID) and so the consumer's dedupe record. Set it
	// (a UUID) when you will pass it to PublishNow after the commit; Add generates one when it is empty.
	ID string
	// Queue is the queue's name, a key of config.Config.Queues ("jobs", "webhooks"). Required.
	Queue string
	// Kind names the job or event type ("notification.create", "horse.created"). Required.
	Kind string
	// TenantID is the tenant the entry belongs to, "" for none. It must be the transaction's tenant:
	// row-level security refuses any other.
	TenantID string
	// Payload is marshalled with encoding/json (a json.RawMessage is used as is); nil becomes null.
	Payload any
	// Delay postpones delivery. Up to sqsx.MaxDelay it becomes the message's SQS delay when published
	// at once; longer delays wait in the table until they are due.
	Delay time.Duration
}

// Envelope is the body of every message the outbox publishes; consumers decode it (shared/jobs does).
type Envelope struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	TenantID  string          `json:"tenant_id,omitempty"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// ErrInvalid is wrapped by Add's errors for an entry that can never be published (no queue or kind, a
// bad id, a payload that does not marshal or is too large). Nothing was written.
var ErrInvalid = errors.New("outbox: invalid entry")

// Add writes e to the outbox in tx, the caller's transaction: it is published only if tx commits. It
// returns an error wrapping ErrInvalid for an unusable entry, and the database error (wrapped with %w)
// when the insert fails, for example when e.TenantID is not the transaction's tenant. Either way the
// caller should roll back.
func Add(ctx context.Context, tx pgx.Tx, e Entry) error {
	if e.Queue == "" || e.Kind == "" {
		return fmt.Errorf("%w: queue and kind are required", ErrInvalid)
	}
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("outbox: new id: %w", err)
		}
		e.ID = id.String()
	} else if _, err := uuid.Parse(e.ID); err != nil {
		return fmt.Errorf("%w: id %q is not a UUID", ErrInvalid, e.ID)
	}
	if e.TenantID != "" {
		if _, err := uuid.Parse(e.TenantID); err != nil {
			return fmt.Errorf("%w: tenant id %q is not a UUID", ErrInvalid, e.TenantID)
		}
	}
	payload, ok := e.Payload.(json.RawMessage)
	if !ok {
		var err error
		if payload, err = json.Marshal(e.Payload); err != nil {
			return fmt.Errorf("%w: payload: %v", ErrInvalid, err)
		}
	}
	if !json.Valid(payload) {
		return fmt.Errorf("%w: payload is not valid JSON", ErrInvalid)
	}
	if len(payload) > MaxPayloadBytes {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrInvalid, len(payload), MaxPayloadBytes)
	}
	const q = `
INSERT INTO outbox (id, tenant_id, queue, kind, payload, deliver_after)
VALUES ($1, nullif($2, '')::uuid, $3, $4, $5, now() + $6 * interval '1 microsecond')`
	if _, err := tx.Exec(ctx, q, e.ID, e.TenantID, e.Queue, e.Kind, []byte(payload), max(e.Delay, 0).Microseconds()); err != nil {
		return fmt.Errorf("outbox: add %s: %w", e.Kind, err)
	}
	return nil
}
