package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

// rowInto scans every value as rows.Scan does, in the binary formats of a prepared statement and the text
// formats of the simple protocol: its own cases (text, uuid, int4, timestamptz, NULLs into pointers) and
// those it hands to pgx (other types, infinity, years past 9999, NULL into a non-pointer).
func TestRowIntoMatchesScan(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	pool, err := postgres.Open(t.Context(), db.AppURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	type row struct {
		Text, UUID, Varchar          string
		NullText, SomeText, NullUUID *string
		SomeUUID                     *string
		Int, NullInt, NegInt         *int
		Old, Now, Frac, Far          time.Time
		Bool                         bool
		Big                          int64
		NullTime                     *time.Time
	}
	dest := func(r *row) []any {
		return []any{&r.Text, &r.UUID, &r.Varchar, &r.NullText, &r.SomeText, &r.NullUUID, &r.SomeUUID, &r.Int, &r.NullInt,
			&r.NegInt, &r.Old, &r.Now, &r.Frac, &r.Far, &r.Bool, &r.Big, &r.NullTime}
	}
	const q = `SELECT 'tëxt <"&">'::text, '41b9e73e-2e2e-4767-9bbe-9b584d45d1ad'::uuid, 'v'::varchar, NULL::text, ''::text,
		NULL::uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 2015::int4, NULL::int4, (-7)::int4,
		'1969-07-20 20:17:40.5+00'::timestamptz, now(), '2026-11-27 00:13:05.123456+05:30'::timestamptz,
		'10000-01-01 00:00:00+00'::timestamptz, true, 9007199254740993::int8, NULL::timestamptz`
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		var want, got row
		conn, err := pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// One snapshot, so that now() is the same for both reads.
		if err := tx.QueryRow(t.Context(), q, mode).Scan(dest(&want)...); err != nil {
			t.Fatalf("mode %v: rows.Scan: %v", mode, err)
		}
		if err := tx.QueryRow(t.Context(), q, mode).Scan(postgres.RowInto(dest(&got)...)); err != nil {
			t.Fatalf("mode %v: rowInto: %v", mode, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("mode %v: rowInto scanned\n%+v\nrows.Scan\n%+v", mode, got, want)
		}
		// What pgx refuses, rowInto refuses.
		for _, bad := range []string{`SELECT NULL::text`, `SELECT 'infinity'::timestamptz`, `SELECT NULL::uuid`} {
			var s string
			var tm time.Time
			d := any(&s)
			if bad == `SELECT 'infinity'::timestamptz` {
				d = &tm
			}
			errScan := tx.QueryRow(t.Context(), bad, mode).Scan(d)
			errInto := tx.QueryRow(t.Context(), bad, mode).Scan(postgres.RowInto(d))
			if errScan == nil || errInto == nil {
				t.Errorf("mode %v: %s: rows.Scan error %v, rowInto error %v; want both to fail", mode, bad, errScan, errInto)
			}
		}
		_ = tx.Rollback(context.Background())
		conn.Release()
	}
}
