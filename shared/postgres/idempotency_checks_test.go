package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// The record's checks (domains since migration 0011) refuse what they refused as table checks, with the
// same SQLSTATE; a record's tenant need not exist (no foreign key: records expire, see 0011).
func TestIdempotencyRecordChecks(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const insert = `INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, status, response_status, scope)
		VALUES ($1::uuid, $2::text, $3::text, '\x01', $4::text, $5::int, gen_random_uuid())`
	const tenant = "5e1f0000-0000-4000-8000-00000000abcd" // in no tenants row
	cases := []struct {
		name   string
		route  string
		key    string
		status string
		code   *int
		ok     bool
	}{
		{name: "valid, tenant without a row", route: "POST /x", key: "k", status: "completed", code: ptr(201), ok: true},
		{name: "in flight without a status", route: "POST /x", key: "k2", status: "in_flight", ok: true},
		{name: "longest key", route: "POST /x", key: strings.Repeat("k", 255), status: "in_flight", ok: true},
		{name: "empty key", route: "POST /x", key: "", status: "in_flight"},
		{name: "key of 256", route: "POST /x", key: strings.Repeat("k", 256), status: "in_flight"},
		{name: "empty route", route: "", key: "k3", status: "in_flight"},
		{name: "route of 513", route: strings.Repeat("r", 513), key: "k4", status: "in_flight"},
		{name: "unknown status", route: "POST /x", key: "k5", status: "done"},
		{name: "status 99", route: "POST /x", key: "k6", status: "completed", code: ptr(99)},
		{name: "status 600", route: "POST /x", key: "k7", status: "completed", code: ptr(600)},
		{name: "completed without a status", route: "POST /x", key: "k8", status: "completed"},
	}
	for _, c := range cases {
		_, err := db.Owner.Exec(ctx, insert, tenant, c.route, c.key, c.status, c.code)
		var pgErr *pgconn.PgError
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v, want the record inserted", c.name, err)
		case !c.ok && (!errors.As(err, &pgErr) || pgErr.Code != "23514"):
			t.Errorf("%s: err = %v, want a check violation (23514)", c.name, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
