package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/webhook"
)

// WebhookStore keeps webhook endpoints, their deliveries and the attempt log. Row-level security confines
// every statement to the principal's (or the job's) tenant, except SweepDue, which runs on the maintenance
// pool as corral_maint across tenants.
//
// Endpoint secrets are stored as is (webhook_endpoints.secret): encryption at rest arrives with the key
// service of the identity work.
type WebhookStore struct {
	db    *DB
	maint *pgxpool.Pool
}

var (
	_ webhook.EndpointStore = (*WebhookStore)(nil)
	_ webhook.DeliveryStore = (*WebhookStore)(nil)
)

// NewWebhookStore returns a store on db. maint, the maintenance pool (corral_maint), is needed by SweepDue
// only and may be nil elsewhere.
func NewWebhookStore(db *DB, maint *pgxpool.Pool) *WebhookStore {
	return &WebhookStore{db: db, maint: maint}
}

// ErrNoMaintenancePool is returned by SweepDue on a store made without the maintenance pool.
var ErrNoMaintenancePool = errors.New("postgres: webhook sweep needs the maintenance pool (DATABASE_MAINTENANCE_URL)")

// endpointColumns is every column of a webhook.Endpoint, in the order endpointDest reads them. The
// previous secret's expiry shows only while it still signs.
const endpointColumns = `id, url, description, event_types,
    CASE WHEN previous_expires_at > now() THEN previous_expires_at END,
    disabled_at, disabled_reason, failing_since, created_by, created_at`

func endpointDest(e *webhook.Endpoint) []any {
	return []any{&e.ID, &e.URL, &e.Description, &e.EventTypes, &e.PreviousSecretExpiresAt,
		&e.DisabledAt, &e.DisabledReason, &e.FailingSince, &e.CreatedBy, &e.CreatedAt}
}

// deliveryColumns is every column of a webhook.Delivery, attempts last as a JSON array, for a delivery
// aliased d.
const deliveryColumns = `d.id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempt, d.status,
    d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at,
    coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
                  'error', a.error, 'duration_ms', a.duration_ms, 'attempted_at', a.attempted_at) ORDER BY a.attempt)
              FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')`

// scanDelivery scans deliveryColumns.
func scanDelivery(row pgx.Row) (webhook.Delivery, error) {
	var (
		d        webhook.Delivery
		payload  []byte
		attempts []byte
	)
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &payload, &d.Attempt, &d.Status,
		&d.NextAttemptAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.DeliveredAt, &attempts)
	if err != nil {
		return d, err
	}
	d.Payload = json.RawMessage(payload)
	if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
		return d, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	return d, nil
}

// micros returns d in whole microseconds (a negative d as 0), for SQL of the form $n * interval '1 microsecond'.
func micros(d time.Duration) int64 { return max(d, 0).Microseconds() }

// CreateEndpoint implements webhook.EndpointStore.
func (s *WebhookStore) CreateEndpoint(ctx context.Context, p auth.Principal, in webhook.NewEndpoint) (webhook.Endpoint, error) {
	const q = `
INSERT INTO webhook_endpoints (tenant_id, url, description, event_types, secret, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING ` + endpointColumns
	var e webhook.Endpoint
	err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{p.TenantID, in.URL, in.Description, in.EventTypes, in.Secret, p.UserID}, endpointDest(&e)...)
	if err != nil {
		return e, fmt.Errorf("webhook store: create endpoint: %w", err)
	}
	return e, nil
}

// ListEndpoints implements webhook.EndpointStore: one statement, reading q.Limit+1 rows to learn whether
// a next page exists.
func (s *WebhookStore) ListEndpoints(ctx context.Context, p auth.Principal, q webhook.Query) (webhook.EndpointPage, error) {
	const list = `
SELECT ` + endpointColumns + ` FROM webhook_endpoints
WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid)
ORDER BY created_at DESC, id DESC
LIMIT $3`
	args := []any{nil, nil, q.Limit + 1}
	if q.After != nil {
		args[0], args[1] = q.After.CreatedAt, q.After.ID
	}
	var page webhook.EndpointPage
	err := s.db.Query(ctx, p, ReadOnly, list, args, func(rows pgx.Rows) error {
		var e webhook.Endpoint
		if err := rows.Scan(endpointDest(&e)...); err != nil {
			return err
		}
		page.Endpoints = append(page.Endpoints, e)
		return nil
	})
	if err != nil {
		return webhook.EndpointPage{}, fmt.Errorf("webhook store: list endpoints: %w", err)
	}
	if len(page.Endpoints) > q.Limit {
		page.Endpoints = page.Endpoints[:q.Limit]
		last := page.Endpoints[len(page.Endpoints)-1]
		page.Next = &webhook.Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// DeleteEndpoint implements webhook.EndpointStore. Its deliveries and their attempts go by cascade.
func (s *WebhookStore) DeleteEndpoint(ctx context.Context, p auth.Principal, id string) error {
	const q = `DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id`
	var deleted string
	err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{id}, &deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return webhook.ErrNotFound
	case err != nil:
		return fmt.Errorf("webhook store: delete endpoint: %w", err)
	}
	return nil
}

// RotateSecret implements webhook.EndpointStore: the current secret becomes the previous one, signing
// until overlap from now; a previous secret still in its overlap is dropped.
func (s *WebhookStore) RotateSecret(ctx context.Context, p auth.Principal, id, secret string, overlap time.Duration) (webhook.Endpoint, error) {
	const q = `
UPDATE webhook_endpoints
SET previous_secret = secret, previous_expires_at = now() + $3 * interval '1 microsecond', secret = $2
WHERE id = $1
RETURNING ` + endpointColumns
	var e webhook.Endpoint
	err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{id, secret, micros(overlap)}, endpointDest(&e)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return e, webhook.ErrNotFound
	case err != nil:
		return e, fmt.Errorf("webhook store: rotate secret: %w", err)
	}
	return e, nil
}

// ListDeliveries implements webhook.EndpointStore. An empty page is told apart from a missing endpoint by
// a second read.
func (s *WebhookStore) ListDeliveries(ctx context.Context, p auth.Principal, endpointID string, q webhook.Query) (webhook.DeliveryPage, error) {
	const list = `
SELECT ` + deliveryColumns + `
FROM webhook_deliveries d
WHERE d.endpoint_id = $1 AND ($2::timestamptz IS NULL OR (d.created_at, d.id) < ($2::timestamptz, $3::uuid))
ORDER BY d.created_at DESC, d.id DESC
LIMIT $4`
	args := []any{endpointID, nil, nil, q.Limit + 1}
	if q.After != nil {
		args[1], args[2] = q.After.CreatedAt, q.After.ID
	}
	var page webhook.DeliveryPage
	err := s.db.Query(ctx, p, ReadOnly, list, args, func(rows pgx.Rows) error {
		d, err := scanDelivery(rows)
		if err != nil {
			return err
		}
		page.Deliveries = append(page.Deliveries, d)
		return nil
	})
	if err != nil {
		return webhook.DeliveryPage{}, fmt.Errorf("webhook store: list deliveries: %w", err)
	}
	if len(page.Deliveries) == 0 {
		const exists = `SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)`
		var ok bool
		if err := s.db.QueryRow(ctx, p, ReadOnly, exists, []any{endpointID}, &ok); err != nil {
			return webhook.DeliveryPage{}, fmt.Errorf("webhook store: list deliveries: %w", err)
		}
		if !ok {
			return webhook.DeliveryPage{}, webhook.ErrNotFound
		}
	}
	if len(page.Deliveries) > q.Limit {
		page.Deliveries = page.Deliveries[:q.Limit]
		last := page.Deliveries[len(page.Deliveries)-1]
		page.Next = &webhook.Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// RetryDelivery implements webhook.EndpointStore, in one transaction: the delivery and its endpoint are
// checked under the delivery's row lock, then the delivery is made pending.
func (s *WebhookStore) RetryDelivery(ctx context.Context, p auth.Principal, id string, safetyNet time.Duration) (webhook.Delivery, error) {
	const (
		check = `
SELECT d.status, e.disabled_at IS NOT NULL
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
WHERE d.id = $1
FOR UPDATE OF d`
		retry = `
UPDATE webhook_deliveries d
SET status = 'pending', next_attempt_at = now() + $2 * interval '1 microsecond'
WHERE d.id = $1
RETURNING ` + deliveryColumns
	)
	var out webhook.Delivery
	err := s.db.InTx(ctx, p, func(tx pgx.Tx) error {
		var (
			status   string
			disabled bool
		)
		err := tx.QueryRow(ctx, check, id).Scan(&status, &disabled)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return webhook.ErrNotFound
		case err != nil:
			return fmt.Errorf("webhook store: retry delivery: %w", err)
		case status == webhook.StatusPending || disabled:
			return webhook.ErrRetryConflict
		}
		if out, err = scanDelivery(tx.QueryRow(ctx, retry, id, micros(safetyNet))); err != nil {
			return fmt.Errorf("webhook store: retry delivery: %w", err)
		}
		return nil
	})
	return out, err
}

// receives is the condition, on a webhook endpoint e, that it receives events of the type kind (an SQL
// expression): enabled, and subscribed to kind or to every event ("*"). CreateDeliveries fans an event out
// to the endpoints it holds for.
func receives(kind string) string {
	return `e.disabled_at IS NULL AND (` + kind + ` = ANY (e.event_types) OR '*' = ANY (e.event_types))`
}

// webhookSubscribed is the condition that an endpoint of tenant receives events of the type kind (SQL
// expressions): whether an event for the webhooks queue is worth writing.
func webhookSubscribed(tenant, kind string) string {
	return `EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = ` + tenant + ` AND ` + receives(kind) + `)`
}

// CreateDeliveries implements webhook.DeliveryStore in one statement, as the event's tenant.
func (s *WebhookStore) CreateDeliveries(ctx context.Context, ev webhook.Event, safetyNet time.Duration) ([]webhook.Job, error) {
	q := `
INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, next_attempt_at)
SELECT e.tenant_id, e.id, $1, $2, $3, now() + $4 * interval '1 microsecond'
FROM webhook_endpoints e
WHERE ` + receives("$2") + `
ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING
RETURNING id`
	var jobs []webhook.Job
	err := s.db.Query(ctx, auth.Principal{TenantID: ev.TenantID}, ReadWrite, q,
		[]any{ev.ID, ev.Type, string(ev.Payload), micros(safetyNet)}, func(rows pgx.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			jobs = append(jobs, webhook.Job{DeliveryID: id, TenantID: ev.TenantID, Attempt: 1})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("webhook store: create deliveries: %w", err)
	}
	return jobs, nil
}

// Claim implements webhook.DeliveryStore, in one transaction under the delivery's row lock.
func (s *WebhookStore) Claim(ctx context.Context, j webhook.Job, lease time.Duration) (webhook.Target, error) {
	const (
		read = `
SELECT d.attempt, d.status, e.disabled_at IS NOT NULL, e.url, e.secret,
       CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END,
       d.endpoint_id, d.event_id, d.event_type, d.payload, d.created_at
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
WHERE d.id = $1
FOR UPDATE OF d`
		kill  = `UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL, last_error = 'endpoint disabled' WHERE id = $1`
		claim = `UPDATE webhook_deliveries SET attempt = $2, next_attempt_at = now() + $3 * interval '1 microsecond' WHERE id = $1`
	)
	var (
		t        webhook.Target
		disabled bool
	)
	err := s.db.InTx(ctx, auth.Principal{TenantID: j.TenantID}, func(tx pgx.Tx) error {
		var (
			previous *string
			payload  []byte
			secret   string
		)
		d := &t.Delivery
		err := tx.QueryRow(ctx, read, j.DeliveryID).Scan(&d.Attempt, &d.Status, &disabled, &t.URL, &secret, &previous,
			&d.EndpointID, &d.EventID, &d.EventType, &payload, &d.CreatedAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return webhook.ErrStale // deleted with its endpoint, or another tenant's id
		case err != nil:
			return err
		case d.Status != webhook.StatusPending && d.Status != webhook.StatusFailed, d.Attempt != j.Attempt-1:
			return webhook.ErrStale
		case disabled:
			_, err := tx.Exec(ctx, kill, j.DeliveryID)
			return err
		}
		d.ID, d.Attempt, d.Payload = j.DeliveryID, j.Attempt, payload
		t.Secrets = []string{secret}
		if previous != nil {
			t.Secrets = append(t.Secrets, *previous)
		}
		_, err = tx.Exec(ctx, claim, j.DeliveryID, j.Attempt, micros(lease))
		return err
	})
	switch {
	case errors.Is(err, webhook.ErrStale):
		return webhook.Target{}, err
	case err != nil:
		return webhook.Target{}, fmt.Errorf("webhook store: claim: %w", err)
	case disabled:
		return webhook.Target{}, webhook.ErrEndpointDisabled
	}
	return t, nil
}

// NotificationKindEndpointDisabled is the kind of the notification the tenant's owners and admins get when
// an endpoint is disabled automatically.
const NotificationKindEndpointDisabled = "webhook.endpoint_disabled"

// Record implements webhook.DeliveryStore, in one transaction: the attempt's log row (none when the
// delivery was deleted meanwhile, with its endpoint), the endpoint's
// failure streak (and disabling, with the other deliveries made dead and a notification to each owner
// and admin of the tenant), then the delivery, unless a later attempt has already claimed it.
func (s *WebhookStore) Record(ctx context.Context, r webhook.Result) (webhook.Recorded, error) {
	const (
		logAttempt = `
INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status_code, error, duration_ms)
SELECT tenant_id, id, $2, nullif($3, 0), nullif($4, ''), $5 FROM webhook_deliveries WHERE id = $1
ON CONFLICT (tenant_id, delivery_id, attempt) DO NOTHING`
		healthy = `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1`
		failing = `
UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
WHERE id = $1
RETURNING failing_since, failing_since <= now() - $2 * interval '1 microsecond'`
		disable = `
UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = $2
WHERE id = $1 AND disabled_at IS NULL
RETURNING url`
		killOthers = `
UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL, last_error = 'endpoint disabled'
WHERE endpoint_id = $1 AND status IN ('pending', 'failed') AND id <> $2`
		notify = `
INSERT INTO notifications (tenant_id, user_id, kind, title, body, data)
SELECT m.tenant_id, m.user_id, $2, 'A webhook endpoint was disabled', $3,
       jsonb_build_object('endpoint_id', $1::uuid, 'url', $4::text, 'reason', $5::text)
FROM memberships m
WHERE m.role IN ('owner', 'admin')`
		succeeded = `
UPDATE webhook_deliveries
SET status = 'succeeded', delivered_at = now(), next_attempt_at = NULL, last_status = $3, last_error = NULL
WHERE id = $1 AND attempt = $2`
		failed = `
UPDATE webhook_deliveries
SET status = CASE WHEN $5::bigint IS NULL THEN 'dead' ELSE 'failed' END,
    next_attempt_at = now() + $5 * interval '1 microsecond',
    last_status = nullif($3, 0), last_error = $4
WHERE id = $1 AND attempt = $2`
	)
	j := r.Job
	var rec webhook.Recorded
	err := s.db.InTx(ctx, auth.Principal{TenantID: j.TenantID}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, logAttempt, j.DeliveryID, j.Attempt, r.StatusCode, r.Error, r.Duration.Milliseconds()); err != nil {
			return fmt.Errorf("log attempt: %w", err)
		}
		if r.Succeeded {
			if _, err := tx.Exec(ctx, healthy, r.EndpointID); err != nil {
				return fmt.Errorf("endpoint healthy: %w", err)
			}
			_, err := tx.Exec(ctx, succeeded, j.DeliveryID, j.Attempt, r.StatusCode)
			return err
		}

		reason := ""
		if r.Gone {
			reason = "the receiver answered 410 Gone"
		} else {
			var (
				since   time.Time
				tooLong bool
			)
			if err := tx.QueryRow(ctx, failing, r.EndpointID, micros(r.FailureWindow)).Scan(&since, &tooLong); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("endpoint failing: %w", err)
			}
			if tooLong {
				reason = "every delivery has failed since " + since.UTC().Format(time.RFC3339)
			}
		}
		var next any // NULL: no attempt left
		if r.Retry != nil && reason == "" {
			wait := *r.Retry
			if r.Queued {
				wait += r.SafetyNet
			}
			next = micros(wait)
		}
		if _, err := tx.Exec(ctx, failed, j.DeliveryID, j.Attempt, r.StatusCode, r.Error, next); err != nil {
			return fmt.Errorf("delivery failed: %w", err)
		}
		if reason == "" {
			return nil
		}
		var url string
		err := tx.QueryRow(ctx, disable, r.EndpointID, reason).Scan(&url)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil // disabled already (by a concurrent attempt): nothing more to do
		case err != nil:
			return fmt.Errorf("disable endpoint: %w", err)
		}
		rec = webhook.Recorded{Disabled: true, Reason: reason}
		if _, err := tx.Exec(ctx, killOthers, r.EndpointID, j.DeliveryID); err != nil {
			return fmt.Errorf("end deliveries of a disabled endpoint: %w", err)
		}
		body := "Deliveries to " + url + " have stopped: " + reason + ". Register the endpoint again once it works."
		if _, err := tx.Exec(ctx, notify, r.EndpointID, NotificationKindEndpointDisabled, body, url, reason); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	})
	if err != nil {
		return webhook.Recorded{}, fmt.Errorf("webhook store: record: %w", err)
	}
	return rec, nil
}

// SweepDue implements webhook.DeliveryStore in one statement on the maintenance pool: due rows are
// locked with SKIP LOCKED, so concurrent sweeps share the work rather than queue the same attempts.
func (s *WebhookStore) SweepDue(ctx context.Context, limit int, safetyNet time.Duration) ([]webhook.Job, error) {
	if s.maint == nil {
		return nil, ErrNoMaintenancePool
	}
	const q = `
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE next_attempt_at <= now() AND status IN ('pending', 'failed')
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = now() + $2 * interval '1 microsecond'
FROM due
WHERE d.id = due.id
RETURNING d.id, d.tenant_id, d.attempt + 1`
	rows, err := s.maint.Query(ctx, q, limit, micros(safetyNet))
	if err != nil {
		return nil, fmt.Errorf("webhook store: sweep: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Job, error) {
		var j webhook.Job
		err := row.Scan(&j.DeliveryID, &j.TenantID, &j.Attempt)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("webhook store: sweep: %w", err)
	}
	return jobs, nil
}
