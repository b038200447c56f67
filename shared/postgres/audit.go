package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
)

// AuditSink writes audit events into audit_events, one statement per tenant batch.
type AuditSink struct {
	db *DB
}

var _ audit.Sink = (*AuditSink)(nil)

// NewAuditSink returns a sink on db.
func NewAuditSink(db *DB) *AuditSink { return &AuditSink{db: db} }

const insertAuditSQL = `
INSERT INTO audit_events (tenant_id, user_id, kind, ip, route, detail, request_id, occurred_at)
SELECT nullif($1, '')::uuid, u.user_id, u.kind, nullif(u.ip, '')::inet, u.route, u.detail::jsonb, u.request_id, u.occurred_at
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
    AS u(user_id, kind, ip, route, detail, request_id, occurred_at)`

// WriteAudit implements audit.Sink: the events of one tenant ("" for none) in one round trip.
func (s *AuditSink) WriteAudit(ctx context.Context, tenantID string, events []audit.Event) error {
	n := len(events)
	users, kinds, ips, routes, details, reqIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	for i, e := range events {
		users[i], kinds[i], ips[i], routes[i], reqIDs[i], at[i] = e.UserID, e.Kind, e.IP, e.Route, e.RequestID, e.At
		details[i] = string(audit.DetailJSON(e.Detail))
	}
	err := s.db.Query(ctx, auth.Principal{TenantID: tenantID}, ReadWrite, insertAuditSQL,
		[]any{tenantID, users, kinds, ips, routes, details, reqIDs, at}, func(pgx.Rows) error { return nil })
	if err != nil {
		return fmt.Errorf("audit: write %d events: %w", n, err)
	}
	return nil
}
