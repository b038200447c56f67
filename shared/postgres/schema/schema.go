// Package schema applies the SQL migrations of package migrations with golang-migrate. It is kept apart
// from shared/postgres so that function binaries, which never migrate, do not link the migration tooling.
package schema

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/rocker-app/corral/migrations"
)

// Up applies every pending migration from package migrations to the database at ownerURL, which
// must connect as the role that owns the schema (not the application role). Each migration file runs as
// one transaction. Having nothing to apply is not an error; a failure is returned wrapped with %w and
// leaves the database at the last migration that succeeded (golang-migrate marks the failed version dirty).
func Up(ctx context.Context, ownerURL string) error {
	return runMigrate(ctx, ownerURL, "up", func(m *migrate.Migrate) error { return m.Up() })
}

// Down reverts every applied migration, all the way down. Errors follow Up's contract.
func Down(ctx context.Context, ownerURL string) error {
	return runMigrate(ctx, ownerURL, "down", func(m *migrate.Migrate) error { return m.Down() })
}

// Steps applies n migrations forward, or reverts -n when n is negative. Asking for more steps than
// there are migrations to apply or revert returns an error (migrate.ErrShortLimit) after applying those
// that exist. Errors follow Up's contract.
func Steps(ctx context.Context, ownerURL string, n int) error {
	return runMigrate(ctx, ownerURL, fmt.Sprintf("steps %d", n), func(m *migrate.Migrate) error { return m.Steps(n) })
}

func runMigrate(ctx context.Context, ownerURL, what string, run func(*migrate.Migrate) error) (err error) {
	dbURL, err := migrateURL(ownerURL)
	if err != nil {
		return fmt.Errorf("schema: migrate %s: %w", what, err)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("schema: migrate %s: %w", what, err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, dbURL)
	if err != nil {
		_ = src.Close()
		return fmt.Errorf("schema: migrate %s: %w", what, err)
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			if cerr := errors.Join(srcErr, dbErr); cerr != nil {
				err = fmt.Errorf("schema: migrate %s: close: %w", what, cerr)
			}
		}
	}()

	// golang-migrate has no context: stop it between migrations when ctx ends.
	stop := context.AfterFunc(ctx, func() {
		select {
		case m.GracefulStop <- true:
		default:
		}
	})
	defer stop()

	if err := run(m); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("schema: migrate %s: %w", what, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("schema: migrate %s: %w", what, err)
	}
	return nil
}

// migrateURL turns a postgres:// or postgresql:// URL into the pgx5:// form golang-migrate's pgx v5
// driver registers under. A pgx5:// URL is returned as it is.
func migrateURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("database URL does not parse")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		u.Scheme = "pgx5"
	case "pgx5":
	default:
		return "", fmt.Errorf("database URL scheme %q is not postgres://", u.Scheme)
	}
	return u.String(), nil
}
