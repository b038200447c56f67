// Package pgtest gives each test its own migrated PostgreSQL database, cloned in milliseconds from a
// template database that is migrated once per migration content and shared by every test process.
// It is imported only by tests.
//
// The server comes from CORRAL_TEST_ADMIN_URL (a superuser; default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, then the same with user root). An
// unreachable server fails the test with a message saying how to start it: tests never skip for it.
//
// Row-level security does not apply to superusers and table owners, so arrange fixtures through
// DB.Owner and exercise code through DB.App, which connects as the application role corral_app.
// Scheduled maintenance runs through DB.Maint, which connects as corral_maint: it reaches across tenants
// only where a migration gave it a maintenance policy.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rocker-app/corral/migrations"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/schema"
)

const (
	envAdminURL     = "CORRAL_TEST_ADMIN_URL"
	defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

	// AppRole is the application role; tests connect as it with password AppPassword.
	AppRole = "corral_app"
	// AppPassword is the password pgtest gives AppRole, so AppURL works where the server requires one.
	AppPassword = "corral_app_test"
	// MaintRole is the maintenance role of the scheduled jobs; tests connect as it with MaintPassword.
	MaintRole = "corral_maint"
	// MaintPassword is the password pgtest gives MaintRole.
	MaintPassword = "corral_maint_test"

	// setupLockID serialises role and template setup across test processes (an arbitrary constant).
	setupLockID int64 = 0x636f7272616c // "corral"

	appPoolSize   = 4
	maintPoolSize = 2
	ownerPoolSize = 4
	setupTimeout  = 2 * time.Minute
	opTimeout     = 30 * time.Second
)

// DB is one test's database. Everything is closed and the database dropped in the test's Cleanup.
type DB struct {
	// Name is the database name, corral_test_<random hex>.
	Name string
	// OwnerURL connects as the superuser that owns the schema; schema.Up and friends take it.
	OwnerURL string
	// AppURL connects as corral_app, the role the functions use: row-level security applies.
	AppURL string
	// Owner is a superuser pool that bypasses row-level security: use it to arrange and inspect fixtures.
	Owner *pgxpool.Pool
	// App runs as corral_app, on one pool used for both writes and reads.
	App *postgres.DB
	// MaintURL connects as corral_maint, the role of the scheduled maintenance functions
	// (DATABASE_MAINTENANCE_URL): row-level security applies, widened by the maintenance policies.
	MaintURL string
	// Maint is a pool connected as corral_maint.
	Maint *pgxpool.Pool
}

// cluster is what every test of a process shares: how to reach the server and the template name.
type cluster struct {
	admin    *url.URL
	pool     *pgxpool.Pool
	template string
}

// sharedCluster memoises the one-time setup of a test process (connect, ensure role, ensure template).
// It holds no state that changes after it first runs.
var sharedCluster = sync.OnceValues(setup)

// New returns a fresh database cloned from the migrated template. It fails the test if PostgreSQL is
// unreachable or the clone fails.
func New(t testing.TB) *DB {
	t.Helper()
	c := mustCluster(t)
	return c.create(t, "TEMPLATE "+pgx.Identifier{c.template}.Sanitize())
}

// Fresh returns an empty, unmigrated database (cloned from template0), for testing the migrations
// themselves. It fails the test as New does.
func Fresh(t testing.TB) *DB {
	t.Helper()
	c := mustCluster(t)
	return c.create(t, "TEMPLATE template0")
}

func mustCluster(t testing.TB) *cluster {
	t.Helper()
	c, err := sharedCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return c
}

func (c *cluster) create(t testing.TB, from string) *DB {
	t.Helper()
	name := "corral_test_" + randomHex(t, 8)
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := c.pool.Exec(ctx, "CREATE DATABASE "+ident+" "+from); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := c.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})

	db := &DB{
		Name:     name,
		OwnerURL: withDatabase(c.admin, name, nil),
		AppURL:   withDatabase(c.admin, name, url.UserPassword(AppRole, AppPassword)),
		MaintURL: withDatabase(c.admin, name, url.UserPassword(MaintRole, MaintPassword)),
	}
	owner, err := pgxpool.New(ctx, db.OwnerURL)
	if err != nil {
		t.Fatalf("pgtest: owner pool: %v", err)
	}
	t.Cleanup(owner.Close)
	db.Owner = owner

	app, err := postgres.Open(ctx, db.AppURL, appPoolSize)
	if err != nil {
		t.Fatalf("pgtest: app pool: %v", err)
	}
	t.Cleanup(app.Close)
	db.App = postgres.New(app, nil)

	maint, err := postgres.Open(ctx, db.MaintURL, maintPoolSize)
	if err != nil {
		t.Fatalf("pgtest: maintenance pool: %v", err)
	}
	t.Cleanup(maint.Close)
	db.Maint = maint
	return db
}

// setup connects to the server and, under an advisory lock shared by all test processes, makes sure the
// application role can log in and the template for the current migrations exists.
func setup() (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	admin, err := connectAdmin(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(admin.String())
	if err != nil {
		return nil, fmt.Errorf("admin URL: %w", err)
	}
	cfg.MaxConns = ownerPoolSize
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("admin pool: %w", err)
	}

	tpl, err := templateName()
	if err != nil {
		pool.Close()
		return nil, err
	}
	c := &cluster{admin: admin, pool: pool, template: tpl}
	if err := c.prepare(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return c, nil
}

// connectAdmin returns the first admin URL that answers: CORRAL_TEST_ADMIN_URL if set, else the default
// with user postgres, then with user root.
func connectAdmin(ctx context.Context) (*url.URL, error) {
	candidates := []string{os.Getenv(envAdminURL)}
	if candidates[0] == "" {
		fallback, _ := url.Parse(defaultAdminURL)
		fallback.User = url.User("root")
		candidates = []string{defaultAdminURL, fallback.String()}
	}
	var first error
	for _, raw := range candidates {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s does not parse as a URL", envAdminURL)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, raw)
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			return u, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("PostgreSQL is unreachable at %s (start it with `make test`, or point %s at a superuser URL): %v",
		redacted(candidates[0]), envAdminURL, first)
}

func (c *cluster) prepare(ctx context.Context) (err error) {
	conn, err := pgx.Connect(ctx, c.admin.String())
	if err != nil {
		return fmt.Errorf("admin connection: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", setupLockID); err != nil {
		return fmt.Errorf("setup lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", setupLockID); uerr != nil && err == nil {
			err = fmt.Errorf("setup unlock: %w", uerr)
		}
	}()

	// The migrations create corral_app and corral_maint NOLOGIN when absent; tests need them to log in.
	for _, r := range []struct{ role, password string }{{AppRole, AppPassword}, {MaintRole, MaintPassword}} {
		if _, err := conn.Exec(ctx, ensureRoleSQL(r.role, r.password)); err != nil {
			return fmt.Errorf("ensure role %s: %w", r.role, err)
		}
	}

	var isTemplate bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", c.template).Scan(&isTemplate)
	switch {
	case err == nil && isTemplate:
		return nil // another process (or an earlier run) made it
	case err == nil:
		// Left half-made by a process that died while migrating: start over.
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{c.template}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop unfinished template %s: %w", c.template, err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("look up template %s: %w", c.template, err)
	}

	ident := pgx.Identifier{c.template}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("create template %s: %w", c.template, err)
	}
	if err := schema.Up(ctx, withDatabase(c.admin, c.template, nil)); err != nil {
		return fmt.Errorf("migrate template %s: %w", c.template, err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true"); err != nil {
		return fmt.Errorf("mark template %s: %w", c.template, err)
	}
	return nil
}

// ensureRoleSQL creates role (a constant of this package, never input) able to log in with password, or
// gives an existing one LOGIN and that password. It never grants SUPERUSER or BYPASSRLS.
func ensureRoleSQL(role, password string) string {
	return fmt.Sprintf(`DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%[1]s') THEN
        CREATE ROLE %[1]s LOGIN PASSWORD '%[2]s' NOSUPERUSER NOBYPASSRLS;
    ELSE
        ALTER ROLE %[1]s LOGIN PASSWORD '%[2]s';
    END IF;
END
$$`, role, password)
}

// templateName is corral_tpl_ and the first 12 hex digits of the SHA-256 of every migration file's
// name and content, so a changed migration gets a new template.
func templateName() (string, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return "", fmt.Errorf("read migrations: %w", err)
	}
	h := sha256.New()
	for _, e := range entries { // sorted by name
		b, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return "", fmt.Errorf("read migrations: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return "corral_tpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// withDatabase returns admin pointing at database name, with user replaced when user is not nil.
func withDatabase(admin *url.URL, name string, user *url.Userinfo) string {
	u := *admin
	u.Path = "/" + name
	u.RawPath = ""
	if user != nil {
		u.User = user
	}
	return u.String()
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}
