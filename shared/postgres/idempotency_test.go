package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/idempotency/storetest"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
)

func TestIdempotencyStore(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	storetest.Run(t, func(t *testing.T) (idempotency.Store, func(bool) idempotency.Key) {
		newKey := func(anonymous bool) idempotency.Key {
			k := idempotency.Key{Route: "POST /horses", Key: randomKey(t)}
			if anonymous {
				return k
			}
			if err := db.Owner.QueryRow(context.Background(),
				`INSERT INTO tenants (name, slug) VALUES ('t', $1) RETURNING id::text`, "t-"+k.Key).Scan(&k.TenantID); err != nil {
				t.Fatal(err)
			}
			k.UserID = "a0000000-0000-4000-8000-000000000001"
			return k
		}
		return postgres.NewIdempotencyStore(db.App), newKey
	})
}

// A replay, a duplicate in flight and a mismatch are plain reads: they answer while another transaction
// holds a lock on the record. (INSERT ... ON CONFLICT DO UPDATE ... WHERE locks the conflicting row even
// when it updates nothing, so it would wait for that lock, and commit with a WAL flush.)
func TestIdempotencyStoreReadsTakeNoLock(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	s := postgres.NewIdempotencyStore(db.App)
	ctx := context.Background()
	var tenant string
	if err := db.Owner.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', 'locks') RETURNING id::text`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	key := func(k string) idempotency.Key {
		return idempotency.Key{TenantID: tenant, UserID: "a0000000-0000-4000-8000-000000000001", Route: "POST /horses", Key: k}
	}
	hash, other := []byte("request-a"), []byte("request-b")
	done, running := key("done"), key("running")
	out, err := s.Begin(ctx, done, hash, time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, done, out.Lease, idempotency.Record{Status: 201, Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, running, hash, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}

	tx, err := db.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM idempotency_keys WHERE key IN ('done', 'running') FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		k    idempotency.Key
		hash []byte
		want func(idempotency.Outcome) bool
	}{
		{"replay", done, hash, func(o idempotency.Outcome) bool { return o.Completed != nil && o.Completed.Status == 201 }},
		{"in flight", running, hash, func(o idempotency.Outcome) bool { return o.InFlight }},
		{"mismatch", done, other, func(o idempotency.Outcome) bool { return o.Mismatch }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			out, err := s.Begin(ctx, tt.k, tt.hash, time.Minute, time.Hour)
			if err != nil {
				t.Fatalf("Begin while the row is locked: %v", err)
			}
			if !tt.want(out) {
				t.Errorf("Begin = %+v", out)
			}
		})
	}
}

func randomKey(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// BenchmarkIdempotencyStore measures the store alone: a miss (Begin takes the lease, Complete stores the
// response: two commits) and a replay (Begin finds the completed record: one read).
//
//	go test -run '^$' -bench IdempotencyStore -benchmem ./shared/postgres/
func BenchmarkIdempotencyStore(b *testing.B) {
	db := pgtest.New(b)
	s := postgres.NewIdempotencyStore(db.App)
	ctx := context.Background()
	var tenant string
	if err := db.Owner.QueryRow(ctx, `INSERT INTO tenants (name, slug) VALUES ('t', 'bench') RETURNING id::text`).Scan(&tenant); err != nil {
		b.Fatal(err)
	}
	key := idempotency.Key{TenantID: tenant, UserID: "a0000000-0000-4000-8000-000000000001", Route: "POST /horses"}
	hash := []byte("request-fingerprint-000000000000")
	rec := idempotency.Record{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/horses/1"}}, Body: []byte(`{"id":"1"}`)}
	run := func(b *testing.B, k idempotency.Key) idempotency.Outcome {
		out, err := s.Begin(ctx, k, hash, time.Minute, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if out.Lease != "" {
			if err := s.Complete(ctx, k, out.Lease, rec); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	b.Run("miss", func(b *testing.B) {
		prefix := randomKey(b) + "-"
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := key
			k.Key = prefix + strconv.Itoa(i)
			if out := run(b, k); out.Lease == "" {
				b.Fatalf("Begin = %+v, want a lease", out)
			}
			i++
		}
	})
	b.Run("replay", func(b *testing.B) {
		k := key
		k.Key = randomKey(b)
		run(b, k)
		b.ReportAllocs()
		for b.Loop() {
			if out := run(b, k); out.Completed == nil {
				b.Fatalf("Begin = %+v, want the stored response", out)
			}
		}
	})
}

// The digest the store sends with every record (scopeDigest) is SQL's idempotency_scope, which filled the
// records written before migration 0010: a record written then is found now.
func TestScopeDigestMatchesSQL(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	for _, k := range []idempotency.Key{
		{TenantID: "6F1C2B9E-7A0E-4B53-9A7A-1C1E2F3A4B5C", UserID: "u-1", Route: "POST /horses", Key: "k"},
		{TenantID: "", UserID: "", Route: "POST /auth/signup", Key: "anonymous key"},
		{TenantID: uuid.NewString(), UserID: uuid.NewString(), Route: "PATCH /horses/{id}", Key: "ünïcode ключ 🐎 with spaces"},
		{TenantID: uuid.NewString(), UserID: "user with 7 chars", Route: "r", Key: ""},
		{TenantID: uuid.NewString(), UserID: "üser", Route: "POST /pferde/ä", Key: "k"},
	} {
		var want [16]byte
		if err := db.Owner.QueryRow(context.Background(), `SELECT idempotency_scope(nullif($1, '')::uuid, $2, $3, $4)`,
			k.TenantID, k.UserID, k.Route, k.Key).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := postgres.ScopeDigest(k); got != want {
			t.Errorf("%+v: digest %x, SQL's %x", k, got, want)
		}
	}
}

// headerJSON writes what encoding/json writes for a response's headers, and {} for none.
func TestHeaderJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	headers := []http.Header{
		{"Content-Type": {"application/json"}},
		{"Location": {"/horses/1"}, "Content-Type": {"application/json"}, "X-Many": {"a", "b", ""}},
		{"X-Nil": nil, "X-Empty": {}, "X-Awkward": {`"<tag>" & \ é ` + "\u2028\x01\xff"}},
	}
	for _, h := range headers {
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := postgres.HeaderJSON(h); string(got) != string(want) {
			t.Errorf("headerJSON(%v) = %s, want %s", h, got, want)
		}
	}
	for _, h := range []http.Header{nil, {}} {
		if got := postgres.HeaderJSON(h); string(got) != "{}" {
			t.Errorf("headerJSON(%v) = %s, want {}", h, got)
		}
	}
}
