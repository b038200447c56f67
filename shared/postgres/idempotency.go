package postgres

import (
	"bytes"
	"context"
	"crypto/md5" // a digest to index by (migration 0010), not a signature
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/jsonx"
)

// IdempotencyStore keeps idempotency records in the idempotency_keys table, under the same row-level
// security as everything else: a record is visible only to its own tenant.
type IdempotencyStore struct {
	db *DB
}

var _ idempotency.TxStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store on db.
func NewIdempotencyStore(db *DB) *IdempotencyStore { return &IdempotencyStore{db: db} }

// Pending implements idempotency.TxStore: the lease is taken by the first write of db (DB.InTx, or a
// ReadWrite QueryRow or Query) that runs with the returned lease in its context (idempotency.WithPending)
// for the key's tenant. That write's transaction inserts the lease row before its own statements (leaseSQL):
// the lease commits if and only if the write does, at no extra round trip.
//
// The insert is plain, without the takeover rules of Begin: when the key has any record, even an expired
// one, the insert fails with a unique violation, the handler's transaction rolls back with it, and the
// lease reports idempotency.PendingConflict; the middleware then discards the handler's response and
// follows the ordinary protocol (Begin). A duplicate that arrives while the first request's transaction
// is open waits for it (the unique index's row lock) and then conflicts.
func (s *IdempotencyStore) Pending(k idempotency.Key, requestHash []byte, lease, ttl time.Duration) *idempotency.Pending {
	// The token is drawn when a write takes the lease as a lease row (takeLease): most leases are
	// recorded by the write's own statement (takeRecording), finished, and need none.
	return idempotency.NewPending(s.db, k, requestHash, "", lease, ttl)
}

// leaseSQL takes a pending lease (see Pending). Its arguments are leaseArgs.
const leaseSQL = `
INSERT INTO idempotency_keys
    (tenant_id, user_id, route, key, request_hash, lease_token, lease_expires_at, status, expires_at, scope)
VALUES (nullif($1, '')::uuid, $2, $3, $4, $5, $6::uuid, now() + make_interval(secs => $7::float8),
        'in_flight', now() + make_interval(secs => $8::float8), $9::uuid)`

func leaseArgs(p *idempotency.Pending) []any {
	return []any{p.Key.TenantID, p.Key.UserID, p.Key.Route, p.Key.Key, p.RequestHash, p.Token, p.Lease.Seconds(), p.TTL.Seconds(),
		scopeDigest(p.Key)}
}

// takeLease returns the pending idempotency lease of ctx, now claimed by a write transaction of db for
// principal p, or nil: when there is none, it belongs to another database, another write holds or
// committed it, or p is of another tenant than the key (row-level security would refuse the row).
func (db *DB) takeLease(ctx context.Context, p auth.Principal) *idempotency.Pending {
	l := idempotency.PendingFrom(ctx)
	if l == nil || l.Key.TenantID != p.TenantID || !l.Take(db) {
		return nil
	}
	if l.Token == "" {
		l.Token = newToken() // this transaction holds the lease alone until it settles
	}
	return l
}

// takeRecording is takeLease for a statement that writes the finished record itself
// (idempotency.Pending.TakeRecording): the lease and the response its handler declared, or nil.
func (db *DB) takeRecording(ctx context.Context, p auth.Principal) (*idempotency.Pending, *idempotency.Expected) {
	l := idempotency.PendingFrom(ctx)
	if l == nil || l.Key.TenantID != p.TenantID {
		return nil, nil
	}
	exp := l.TakeRecording(db)
	if exp == nil {
		return nil, nil
	}
	return l, exp
}

// RecordedWrite is a single-statement write that can also store the request's finished idempotency
// record (DB.QueryRowRecorded): SQL is the write; WithRecord is the same write with the record inserted
// by one more data-modifying CTE, its body rendered by SQL from the rows the write returns. Build it with
// NewRecordedWrite.
type RecordedWrite struct {
	SQL        string
	WithRecord string
}

// NewRecordedWrite returns the write "WITH ctes final" and its recording variant, which inserts the
// finished record once per row of the CTE named from, with the response body given by the SQL
// expression body (bytea, over from's columns). nargs is the number of the write's own parameters;
// the record's follow them (recordArgs).
func NewRecordedWrite(ctes, final, from, body string, nargs int) RecordedWrite {
	n := func(i int) string { return "$" + strconv.Itoa(nargs+i) }
	record := `,
idempotency_record AS (
    INSERT INTO idempotency_keys
        (tenant_id, user_id, route, key, request_hash, status, response_status, response_headers, response_body, expires_at, scope)
    SELECT nullif(` + n(1) + `::text, '')::uuid, ` + n(2) + `::text, ` + n(3) + `::text, ` + n(4) + `::text, ` + n(5) + `::bytea,
           'completed', ` + n(6) + `::int, ` + n(7) + `::jsonb, ` + body + `, now() + make_interval(secs => ` + n(8) + `::float8),
           ` + n(9) + `::uuid
    FROM ` + from + `
)
`
	return RecordedWrite{SQL: "WITH " + ctes + "\n" + final, WithRecord: "WITH " + ctes + record + final}
}

// recordArgs are the record's parameters of a RecordedWrite's WithRecord.
func recordArgs(l *idempotency.Pending, exp *idempotency.Expected) []any {
	return []any{l.Key.TenantID, l.Key.UserID, l.Key.Route, l.Key.Key, l.RequestHash, exp.Status, headerJSON(exp.Header), l.TTL.Seconds(), scopeDigest(l.Key)}
}

// headerJSON is a stored response's headers as the JSON object encoding/json writes for them ({} for
// none), without its reflection: names sorted, each with its array of values. Every recorded write
// sends one.
func headerJSON(h http.Header) []byte {
	if len(h) == 0 {
		return []byte("{}")
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	b := make([]byte, 0, 64)
	for i, name := range names {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, name)
		b = append(b, ':')
		if h[name] == nil {
			b = append(b, "null"...)
			continue
		}
		for j, v := range h[name] {
			if j == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = jsonx.AppendString(b, v)
		}
		if len(h[name]) == 0 {
			b = append(b, '[')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// EncoderJSON is the SQL expression of the bytes encoding/json's Encoder writes for the JSON text
// jsonText (an SQL expression of a compact JSON text, as row_to_json renders): the same text with <, >,
// &, U+2028 and U+2029 escaped as Go escapes them, and a newline after it, as UTF-8 bytes. A body
// rendered this way is byte for byte the body httpapi.WriteJSON writes for the same value.
func EncoderJSON(jsonText string) string {
	return `convert_to(replace(replace(replace(replace(replace(` + jsonText +
		`, '<', '\u003c'), '>', '\u003e'), '&', '\u0026'), U&'\2028', '\u2028'), U&'\2029', '\u2029') || E'\n', 'UTF8')`
}

// isLeaseConflict reports whether err is the unique violation of an idempotency key that has a record.
func isLeaseConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "idempotency_keys_scope_key"
}

// beginSQL takes the lease in one statement: insert, or take over a record that expired or whose lease
// ran out on an identical request; otherwise return the existing record.
//
// The record is read first (cur), and the INSERT runs only when no record stands in the way. So a replay,
// a duplicate in flight and a mismatch are plain reads: they take no row lock, assign no transaction id
// and commit without a WAL flush (INSERT ... ON CONFLICT DO UPDATE ... WHERE locks the conflicting row even
// when the WHERE rejects the update). When cur is stale (the record changed after this statement's
// snapshot), the INSERT's conflict handling decides on the latest row version, as before; if that neither
// takes the lease nor finds a record in the snapshot, no row comes back and Begin looks again.
const beginSQL = `
WITH cur AS (
    SELECT k.status, k.request_hash, k.response_status, k.response_headers, k.response_body,
           k.expires_at > now() AND NOT (k.status = 'in_flight' AND k.lease_expires_at <= now() AND k.request_hash = $5)
               AS blocks
    FROM idempotency_keys k
    WHERE k.scope = $9::uuid
      AND k.key = $4 AND k.route = $3 AND k.user_id = $2 AND k.tenant_id IS NOT DISTINCT FROM nullif($1, '')::uuid
),
ins AS (
    INSERT INTO idempotency_keys AS k
        (tenant_id, user_id, route, key, request_hash, lease_token, lease_expires_at, status, expires_at, scope)
    SELECT nullif($1, '')::uuid, $2, $3, $4, $5, $6::uuid, now() + make_interval(secs => $7::float8),
           'in_flight', now() + make_interval(secs => $8::float8), $9::uuid
    WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.blocks)
    ON CONFLICT ON CONSTRAINT idempotency_keys_scope_key DO UPDATE
        SET request_hash = EXCLUDED.request_hash, lease_token = EXCLUDED.lease_token,
            lease_expires_at = EXCLUDED.lease_expires_at, status = 'in_flight', response_status = NULL,
            response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE k.expires_at <= now()
           OR (k.status = 'in_flight' AND k.lease_expires_at <= now() AND k.request_hash = EXCLUDED.request_hash)
    RETURNING true AS acquired
)
SELECT true, ''::text, ''::bytea, 0, NULL::jsonb, NULL::bytea FROM ins
UNION ALL
SELECT false, cur.status, cur.request_hash, coalesce(cur.response_status, 0), cur.response_headers, cur.response_body
FROM cur
WHERE NOT EXISTS (SELECT 1 FROM ins)`

// Begin implements idempotency.Store.
func (s *IdempotencyStore) Begin(ctx context.Context, k idempotency.Key, requestHash []byte, lease, ttl time.Duration) (idempotency.Outcome, error) {
	token := newToken()
	args := []any{k.TenantID, k.UserID, k.Route, k.Key, requestHash, token, lease.Seconds(), ttl.Seconds(), scopeDigest(k)}
	for attempt := 0; ; attempt++ {
		var (
			acquired bool
			status   string
			hash     []byte
			code     int
			headers  []byte
			body     []byte
		)
		err := s.db.QueryRow(ctx, principal(k), ReadWrite, beginSQL, args, &acquired, &status, &hash, &code, &headers, &body)
		if errors.Is(err, pgx.ErrNoRows) && attempt == 0 {
			// A concurrent first attempt committed after this statement's snapshot: look again.
			continue
		}
		if err != nil {
			return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
		}
		switch {
		case acquired:
			return idempotency.Outcome{Lease: token}, nil
		case !bytes.Equal(hash, requestHash):
			return idempotency.Outcome{Mismatch: true}, nil
		case status == "completed":
			rec := &idempotency.Record{Status: code, Body: body, Header: http.Header{}}
			if len(headers) > 0 {
				if err := json.Unmarshal(headers, &rec.Header); err != nil {
					return idempotency.Outcome{}, fmt.Errorf("idempotency: stored headers: %w", err)
				}
			}
			return idempotency.Outcome{Completed: rec}, nil
		default:
			return idempotency.Outcome{InFlight: true}, nil
		}
	}
}

const completeSQL = `
UPDATE idempotency_keys
SET status = 'completed', response_status = $6, response_headers = $7, response_body = $8,
    lease_token = NULL, lease_expires_at = NULL
WHERE scope = $9::uuid
  AND key = $4 AND route = $3 AND user_id = $2 AND tenant_id IS NOT DISTINCT FROM nullif($1, '')::uuid
  AND status = 'in_flight' AND lease_token = $5::uuid`

// Complete implements idempotency.Store.
func (s *IdempotencyStore) Complete(ctx context.Context, k idempotency.Key, leaseToken string, rec idempotency.Record) error {
	headers := headerJSON(rec.Header)
	body := rec.Body
	if body == nil {
		body = []byte{}
	}
	// Storing the response shares its round trip with concurrent requests' (DB.ExecCombined).
	n, err := s.db.ExecCombined(ctx, principal(k), completeSQL, k.TenantID, k.UserID, k.Route, k.Key, leaseToken, rec.Status, headers, body, scopeDigest(k))
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if n == 0 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

const releaseSQL = `
DELETE FROM idempotency_keys
WHERE scope = $6::uuid
  AND key = $4 AND route = $3 AND user_id = $2 AND tenant_id IS NOT DISTINCT FROM nullif($1, '')::uuid
  AND status = 'in_flight' AND lease_token = $5::uuid`

// Release implements idempotency.Store.
func (s *IdempotencyStore) Release(ctx context.Context, k idempotency.Key, leaseToken string) error {
	err := s.db.Query(ctx, principal(k), ReadWrite, releaseSQL,
		[]any{k.TenantID, k.UserID, k.Route, k.Key, leaseToken, scopeDigest(k)}, func(pgx.Rows) error { return nil })
	if err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}

// scopeDigest is the digest of k's scope that finds its record (the scope column, migration 0010): md5 of
// the tenant (canonical, or "-"), the user and the route, each prefixed with its length in characters,
// then the key; the bytes of SQL's idempotency_scope(tenant_id, user_id, route, key), which
// TestScopeDigestMatchesSQL keeps equal.
func scopeDigest(k idempotency.Key) [16]byte {
	tenant := "-"
	if k.TenantID != "" {
		tenant = k.TenantID
		if id, err := uuid.Parse(k.TenantID); err == nil {
			tenant = id.String()
		}
	}
	b := make([]byte, 0, len(tenant)+len(k.UserID)+len(k.Route)+len(k.Key)+16)
	b = append(b, tenant...)
	for _, part := range []string{k.UserID, k.Route} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(utf8.RuneCountInString(part)), 10)
		b = append(b, ':')
		b = append(b, part...)
	}
	b = append(b, ' ')
	b = append(b, k.Key...)
	return md5.Sum(b)
}

func principal(k idempotency.Key) auth.Principal {
	return auth.Principal{TenantID: k.TenantID, UserID: k.UserID}
}

// newToken returns a random UUID-shaped lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
