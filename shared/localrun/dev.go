package localrun

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres/schema"
	"github.com/rocker-app/corral/shared/samtemplate"
	"github.com/rocker-app/corral/shared/seal"
)

// Local development settings. The issuer names the local runner; the cursor secret is for local use only.
const (
	DevIssuer       = "http://127.0.0.1:3000/dev"
	DevAudience     = "corral"
	DevKID          = "dev-1"
	devCursorSecret = "local-development-cursor-secret-not-for-production"
	// devPIILocalKeys and devBlindIndexKeys seal and index the local database's personal data. They are
	// published here, so they protect nothing: for local development only, never in a deployment.
	devPIILocalKeys   = "dev-1:pNe1tyls5fqUMG0GG6c/pp1ayQAw3GfZfiha0g9MXLg="
	devBlindIndexKeys = "dev-b1:P/PfhBHH+coNAkG8VRKAOj1ihGievN1kFrXzKlfGR0E="
	// DefaultOwnerURL is the superuser URL of the local database that migrations run as.
	DefaultOwnerURL = "postgres://postgres@127.0.0.1:5432/corral?sslmode=disable"
	// DevTokenTTL is how long `make token` tokens live.
	DevTokenTTL = 12 * time.Hour
)

// DevSigner loads the local signing key from dir/dev-signing-key.pem, creating it on first use.
func DevSigner(dir string) (*auth.Signer, error) {
	path := filepath.Join(dir, "dev-signing-key.pem")
	var key *ecdsa.PrivateKey
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if key, err = auth.ParseSigningKeyPEM(data); err != nil {
			return nil, fmt.Errorf("localrun: %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if key, err = auth.GenerateSigningKey(); err != nil {
			return nil, err
		}
		pem, err := auth.MarshalSigningKeyPEM(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	return auth.NewSigner(auth.SigningKey{KID: DevKID, Key: key})
}

// DevEnv returns getenv with local defaults for what production must set explicitly: the token issuer,
// audience and signing keys (JWT_SIGNING_KEYS: the dev signer's key under DevKID, so that every function
// issues real tokens and trusts them, and `make token` tokens too), the cursor secret, the personal-data keys (published, dev
// only), and DATABASE_MAINTENANCE_URL (DATABASE_URL with the user corral_maint, which Prepare lets log in).
// Variables already set win.
func DevEnv(getenv func(string) string, signer *auth.Signer) (func(string) string, error) {
	keys, err := auth.MarshalKeyRingPEM(signer.Keys()...)
	if err != nil {
		return nil, err
	}
	maintURL := ""
	if u, err := url.Parse(getenv("DATABASE_URL")); err == nil && u.Host != "" {
		u.User = url.User("corral_maint")
		maintURL = u.String()
	}
	defaults := map[string]string{
		"JWT_ISSUER":       DevIssuer,
		"JWT_AUDIENCE":     DevAudience,
		"JWT_SIGNING_KEYS": string(keys),
		"CURSOR_SECRET":    devCursorSecret,
		// Personal data under the published development keys (PII_KEY_PROVIDER defaults to local).
		"PII_LOCAL_KEYS":   devPIILocalKeys,
		"BLIND_INDEX_KEYS": devBlindIndexKeys,
		"LOG_LEVEL":        "info",
		// Signup answers with the email verification token (no mail is sent locally).
		"CORRAL_DEV": "true",
		// The usual front-end dev servers may write with the refresh cookie (CSRF origin check).
		"CORS_ALLOWED_ORIGINS": "http://localhost:5173,http://localhost:3001",
		// Outbound webhooks may reach receivers on this machine (production refuses private addresses).
		"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
		// The maintenance role of the scheduled functions (local trust authentication needs no password).
		"DATABASE_MAINTENANCE_URL": maintURL,
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return defaults[k]
	}, nil
}

// DevToken signs a token for a seeded user, as the identity service will once it exists.
func DevToken(signer *auth.Signer, u SeedUser) (string, error) {
	return signer.Sign(auth.Claims{Issuer: DevIssuer, Audience: DevAudience, Subject: u.UserID, TenantID: u.TenantID, Role: u.Role, AAL: "aal1"}, DevTokenTTL)
}

// FindSeedUser returns the seeded user with that email.
func FindSeedUser(email string) (SeedUser, bool) {
	for _, u := range SeedUsers {
		if u.Email == email {
			return u, true
		}
	}
	return SeedUser{}, false
}

// Prepare makes the local database ready: migrations are applied, the application and maintenance roles
// can log in (local trust auth only), and the demo data is seeded, its personal data sealed with sealer and
// indexed with index (the functions' own, from platform.Deps, so that they can read it).
func Prepare(ctx context.Context, ownerURL string, sealer *seal.Sealer, index *seal.BlindIndex) error {
	owner, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		return fmt.Errorf("localrun: %w", err)
	}
	defer owner.Close()
	if err := schema.Up(ctx, ownerURL); err != nil {
		return err
	}
	for _, role := range []string{"corral_app", "corral_maint"} {
		if _, err := owner.Exec(ctx, `ALTER ROLE `+role+` LOGIN`); err != nil {
			return fmt.Errorf("localrun: let %s log in: %w", role, err)
		}
	}
	return Seed(ctx, owner, sealer, index)
}

// GoRuntimeEnv returns the Go runtime's variables (GOGC, GOMEMLIMIT, GODEBUG, GOMAXPROCS) that
// template.yaml sets literally for every function, as "KEY=value", sorted: what a function's process
// starts with in Lambda. The cold-start measurement passes them on.
func GoRuntimeEnv(tpl *samtemplate.Template) []string {
	var out []string
	for _, k := range []string{"GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT"} {
		if v, ok := tpl.GlobalEnv[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// RunnerGCPercent is the GOGC the local runner should apply to itself: the template's, unless the runner's
// own environment sets GOGC (then the Go runtime has applied that one already: ok is false). The runner
// hosts every function in one process, so the template's per-function GOMEMLIMIT does not apply to it.
func RunnerGCPercent(tpl *samtemplate.Template, getenv func(string) string) (percent int, ok bool, err error) {
	v, set := tpl.GlobalEnv["GOGC"]
	if !set || getenv("GOGC") != "" {
		return 0, false, nil
	}
	if v == "off" {
		return -1, true, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("template.yaml: GOGC %q: want a non-negative number or off", v)
	}
	return n, true, nil
}
