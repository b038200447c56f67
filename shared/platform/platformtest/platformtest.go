// Package platformtest builds a function's real dependencies for tests: a cloned Postgres database
// (pgtest), the real Redis with a key prefix of the test's own, an SQS client pointed at the local SQS
// server (SQS_ENDPOINT, which `make test` exports), and a token signer whose key the verifier trusts.
// Import it from _test.go files only.
package platformtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/awsparts"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Token settings the test verifier expects.
const (
	Issuer   = "https://auth.corral.test"
	Audience = "corral"
)

// Env is one test's platform: dependencies, database and token signer.
type Env struct {
	Deps   *platform.Deps
	DB     *pgtest.DB
	Signer *auth.Signer
	KID    string // the signing key's id
	Prefix string // the Redis key prefix of this test
}

// RedisURL is where tests find Redis: CORRAL_TEST_REDIS_URL, else the local default.
func RedisURL() string {
	if u := os.Getenv("CORRAL_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// New builds an Env; everything is closed, and the test's Redis keys deleted, in t.Cleanup. modify, when
// given, may adjust the configuration before the dependencies are built.
func New(t testing.TB, modify ...func(*config.Config)) *Env {
	t.Helper()
	db := pgtest.New(t)
	key, err := auth.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	kid := "test-" + randomHex(t, 4)
	signer, err := auth.NewSigner(auth.SigningKey{KID: kid, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := signer.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	// The same key signs the auth functions' tokens (Deps.Issuer), trusted in process through the ring.
	signingKeys, err := auth.MarshalKeyRingPEM(signer.Keys()...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{
		Function:        "test",
		LogLevel:        slog.LevelDebug,
		DatabaseURL:     db.AppURL,
		DatabaseMaxConn: 4,
		// Scheduled maintenance connects as corral_maint, as deployed.
		DatabaseMaintenanceURL: db.MaintURL,
		RedisURL:               RedisURL(),
		JWT:                    config.JWT{Issuer: Issuer, Audience: Audience, PublicKey: string(jwks), SigningKeys: string(signingKeys), TenantClaim: "tenant_id", Leeway: 30 * time.Second},
		MaxBodyBytes:           64 << 10,
		CursorSecret:           []byte(randomHex(t, 32)),
		IdempotencyTTL:         24 * time.Hour,
		IdempotencyStore:       "postgres",
		MetricsNamespace:       "CorralTest",
		// The local SQS server of `make test` (services.sh), when running under it.
		SQSEndpoint: os.Getenv("SQS_ENDPOINT"),
		AWSRegion:   "us-east-1",
		// Personal data is sealed under keys of this test's own.
		// Signup answers with the email verification token; cheap password hashes keep -race tests quick.
		DevMode: true, PasswordMemoryKiB: 8192,
		PII: config.PII{KeyProvider: "local", LocalKeys: "test-1:" + randomKey(t), BlindIndexKeys: "test-b1:" + randomKey(t)},
	}
	for _, m := range modify {
		m(&cfg)
	}
	// No function attribute: the local runner and invoker name each function on their own.
	log := logging.NewBase(t.Output(), cfg.LogLevel)
	d, err := platform.NewDeps(context.Background(), cfg, log, awsparts.All()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Redis.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s (%v): start it, or run the tests with `make test`, which does", RedisURL(), err)
	}
	prefix := "test:" + randomHex(t, 8) + ":"
	overrides, _ := ratelimit.ParseOverrides(cfg.RateLimitOverrides)
	d.Limiter = ratelimit.New(d.Redis, overrides, ratelimit.WithKeyPrefix(prefix), ratelimit.WithLogger(log))
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := d.Redis.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			d.Redis.Del(ctx, keys...)
		}
		d.Close()
	})
	return &Env{Deps: d, DB: db, Signer: signer, KID: kid, Prefix: prefix}
}

// Token signs an access token for user in tenant with the given role, valid for ten minutes.
func (e *Env) Token(t testing.TB, tenantID, userID, role string) string {
	t.Helper()
	tok, err := e.Signer.Sign(auth.Claims{Issuer: Issuer, Audience: Audience, Subject: userID, TenantID: tenantID, Role: role, AAL: "aal1"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Tenant is a tenant created by NewTenant, with an owner and a plain member.
type Tenant struct {
	ID, OwnerID, MemberID string
}

// NewTenant inserts a tenant with an owner and a member (bypassing RLS through the owner pool).
func (e *Env) NewTenant(t testing.TB, name string) Tenant {
	t.Helper()
	ctx := context.Background()
	var tn Tenant
	const q = `
WITH t AS (INSERT INTO tenants (name, slug) VALUES ($1, $2) RETURNING id),
     o AS (INSERT INTO users (email, display_name) VALUES ($3, $1 || ' owner') RETURNING id),
     m AS (INSERT INTO users (email, display_name) VALUES ($4, $1 || ' member') RETURNING id),
     mo AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT t.id, o.id, 'owner' FROM t, o),
     mm AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT t.id, m.id, 'member' FROM t, m)
SELECT t.id::text, o.id::text, m.id::text FROM t, o, m`
	suffix := randomHex(t, 4)
	err := e.DB.Owner.QueryRow(ctx, q, name, name+"-"+suffix, "owner-"+suffix+"@"+name+".test", "member-"+suffix+"@"+name+".test").
		Scan(&tn.ID, &tn.OwnerID, &tn.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// Do sends req through h with a bearer token (when token is not "") and returns the recorded response.
func Do(t testing.TB, h http.Handler, req *http.Request, token string) *Response {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// randomKey returns 32 random bytes in base64, a key of a PII_LOCAL_KEYS or BLIND_INDEX_KEYS list.
func randomKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
