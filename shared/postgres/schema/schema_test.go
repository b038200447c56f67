package schema_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rocker-app/corral/migrations"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/postgres/schema"
)

// schemaSQL describes everything a migration can create in the database, one line per object, in a
// stable order: relations with their row-level security flags and grants, columns, constraints, indexes,
// policies, triggers, functions, extensions and the public schema's grants. golang-migrate's own
// bookkeeping table is left out.
const schemaSQL = `
SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
       || ' acl=' || coalesce(c.relacl::text, '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname NOT LIKE 'schema_migrations%'
UNION ALL
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname <> 'schema_migrations'
UNION ALL
SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'schema_migrations'
UNION ALL
SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
UNION ALL
SELECT 'pol ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
FROM pg_policies WHERE schemaname = 'public'
UNION ALL
SELECT 'trg ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'fn ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '')
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
UNION ALL
SELECT 'nsp public acl=' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public'
ORDER BY 1`

func dumpSchema(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), schemaSQL)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read schema: %v", err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema: %v", err)
	}
	return lines
}

func tablesOf(lines []string) []string {
	var tables []string
	for _, l := range lines {
		if strings.HasPrefix(l, "rel ") {
			tables = append(tables, l)
		}
	}
	return tables
}

func countUpMigrations(t testing.TB) int {
	t.Helper()
	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	downs, err := fs.Glob(migrations.FS, "*.down.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) == 0 || len(ups) != len(downs) {
		t.Fatalf("%d up and %d down migrations, want matching pairs", len(ups), len(downs))
	}
	return len(ups)
}

// TestMigrationsRoundTrip steps a fresh database up one migration at a time, then down one at a time,
// and checks that every down leaves the schema exactly as it was before the matching up; then all the way
// up, all the way down (nothing of ours left) and up again.
func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.Fresh(t)
	ctx := context.Background()
	n := countUpMigrations(t)

	before := []([]string){dumpSchema(t, db.Owner)} // before[i]: the schema at version i
	for i := 1; i <= n; i++ {
		if err := schema.Steps(ctx, db.OwnerURL, 1); err != nil {
			t.Fatalf("up to %d: %v", i, err)
		}
		before = append(before, dumpSchema(t, db.Owner))
		if cmp.Equal(before[i-1], before[i]) {
			t.Errorf("migration %d changed nothing", i)
		}
	}
	for i := n; i >= 1; i-- {
		if err := schema.Steps(ctx, db.OwnerURL, -1); err != nil {
			t.Fatalf("down from %d: %v", i, err)
		}
		if diff := cmp.Diff(before[i-1], dumpSchema(t, db.Owner)); diff != "" {
			t.Errorf("down migration %d does not undo its up (-want +got):\n%s", i, diff)
		}
	}

	steps := []struct {
		name string
		run  func(context.Context, string) error
		want []string
	}{
		{"up", schema.Up, before[n]},
		{"up again is a no-op", schema.Up, before[n]},
		{"down", schema.Down, before[0]},
		{"down again is a no-op", schema.Down, before[0]},
		{"up after down", schema.Up, before[n]},
	}
	for _, s := range steps {
		if err := s.run(ctx, db.OwnerURL); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, dumpSchema(t, db.Owner)); diff != "" {
			t.Errorf("%s: schema (-want +got):\n%s", s.name, diff)
		}
	}
	if got := tablesOf(before[0]); len(got) != 0 {
		t.Errorf("the empty database already has relations: %v", got)
	}
	if got := tablesOf(before[n]); len(got) < 10 {
		t.Errorf("fully migrated schema has only %d relations: %v", len(got), got)
	}
}

func TestMigrateErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.Fresh(t)
	ctx := context.Background()
	tests := []struct {
		name string
		run  func() error
	}{
		{"unknown scheme", func() error { return schema.Up(ctx, "mysql://root@127.0.0.1/x") }},
		{"unreachable server", func() error {
			return schema.Up(ctx, "postgres://nobody:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
		}},
		{"more steps down than applied", func() error { return schema.Steps(ctx, db.OwnerURL, -1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("err = nil")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
