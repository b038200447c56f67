// Package config reads a function's settings from the environment once, at cold start, into typed values.
// Load validates everything and returns one error naming each missing or bad variable, so a misconfigured
// function fails on its first start with a message that says what to fix.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything a function reads from its environment. The defaults suit the local services.
type Config struct {
	Function string     // FUNCTION_NAME, else AWS_LAMBDA_FUNCTION_NAME, else "corral"
	LogLevel slog.Level // LOG_LEVEL: debug, info (default), warn, error

	DatabaseURL     string // DATABASE_URL: the application role (default postgres://corral_app@127.0.0.1:5432/corral)
	DatabaseReadURL string // DATABASE_READ_URL: optional replica for read-only routes
	DatabaseMaxConn int32  // DATABASE_MAX_CONNS: pool size per instance (default 2: one Lambda serves one request at a time)

	RedisURL string // REDIS_URL (default redis://127.0.0.1:6379/0)

	JWT JWT

	CORSAllowedOrigins []string      // CORS_ALLOWED_ORIGINS: comma-separated; empty means no CORS headers
	MaxBodyBytes       int64         // MAX_BODY_BYTES (default 1 MiB)
	CursorSecret       []byte        // CURSOR_SECRET: HMAC key for pagination cursors, at least 32 bytes
	IdempotencyTTL     time.Duration // IDEMPOTENCY_TTL (default 24h)
	IdempotencyStore   string        // IDEMPOTENCY_STORE: postgres (default) or dynamodb
	RateLimitOverrides string        // RATE_LIMIT_OVERRIDES: JSON, see ratelimit.ParseOverrides
	AuditQueueSize     int           // AUDIT_QUEUE_SIZE: events queued per instance before new ones are dropped (default 1024)
	// PasswordMemoryKiB is argon2id's memory for new password hashes (PASSWORD_ARGON2_MEMORY_KIB); 0 keeps
	// shared/password's default (32 MiB); at least 8192. Lower only for tests and local development on slow machines.
	PasswordMemoryKiB int
	// DevMode (CORRAL_DEV) marks the local runner: signup then returns the email verification token
	// instead of mailing it. Never set in the cloud.
	DevMode          bool
	AuditRetention   time.Duration // AUDIT_RETENTION: how long audit rows are kept by the cleanup job (default 2160h, 90 days)
	MetricsNamespace string        // METRICS_NAMESPACE (default Corral)

	// DatabaseMaintenanceURL (DATABASE_MAINTENANCE_URL) connects as a role that may work across tenants
	// (the schema owner, or a role with BYPASSRLS): only scheduled maintenance functions use it.
	DatabaseMaintenanceURL string
	// SQSEndpoint (SQS_ENDPOINT) points the SQS client at a local server; empty in AWS.
	SQSEndpoint string
	// AWSRegion (AWS_REGION, set by Lambda) is the region of AWS clients; us-east-1 locally.
	AWSRegion string
	// IdempotencyTable (IDEMPOTENCY_TABLE) is the DynamoDB table of idempotency records; required when
	// IDEMPOTENCY_STORE is dynamodb.
	IdempotencyTable string
	// DynamoDBEndpoint (DYNAMODB_ENDPOINT) points the DynamoDB client at a local server; empty in AWS.
	DynamoDBEndpoint string
	// StripeWebhookSecret (STRIPE_WEBHOOK_SECRET) is the signing secret (whsec_...) of the Stripe webhook
	// endpoint; only stripe-webhook reads it, and answers 500 without it, so Stripe keeps retrying.
	StripeWebhookSecret string
	// WebhookAllowedHosts (WEBHOOK_ALLOWED_HOSTS, comma-separated, e.g. 127.0.0.1,localhost) exempts hosts
	// from the outbound webhooks' public-address guard and lets them use plain http: for local development
	// and tests only; empty (the default) in AWS.
	WebhookAllowedHosts []string
	// PII is the encryption of personal data at rest (shared/seal).
	PII PII
	// Queues maps a queue's name to its URL, from every variable QUEUE_URL_<NAME> (NAME upper case, e.g.
	// QUEUE_URL_JOBS): template.yaml passes !Ref of each queue; the local runner passes the local URLs.
	Queues map[string]string
}

// PII configures the envelope encryption of personal data and the blind index of email addresses. Key
// lists are "id:<base64>,id:<base64>" with the active key first; platform.NewDeps parses them (see
// seal.ParseLocalKeys and seal.ParseBlindIndex).
type PII struct {
	KeyProvider    string // PII_KEY_PROVIDER: local (default: keys from PII_LOCAL_KEYS) or kms
	LocalKeys      string // PII_LOCAL_KEYS: 32-byte keys wrapping data keys; required when local
	KMSKeyID       string // PII_KMS_KEY_ID: the KMS key (id, ARN or alias) generating data keys; required when kms
	BlindIndexKeys string // BLIND_INDEX_KEYS: HMAC keys (32+ bytes) of the email blind index; required
}

// QueueNames lists the queues a function may be given a URL for (QUEUE_URL_<NAME>).
func QueueNames() []string { return []string{"jobs", "webhooks"} }

// JWT configures token verification. At least one key source must be set.
type JWT struct {
	Issuer             string        // JWT_ISSUER: required iss
	Audience           string        // JWT_AUDIENCE: required aud
	JWKSURL            string        // JWT_JWKS_URL: keys fetched and cached
	PublicKey          string        // JWT_PUBLIC_KEY: a PEM public key or a JWK / JWKS JSON document
	HS256Secret        string        // JWT_HS256_SECRET: Supabase legacy shared secret
	TenantClaim        string        // JWT_TENANT_CLAIM: dotted path of the tenant claim (default tenant_id)
	Leeway             time.Duration // JWT_LEEWAY (default 30s)
	TrustGatewayClaims bool          // AUTH_TRUST_GATEWAY_CLAIMS: accept claims an API Gateway JWT authorizer verified

	// SigningKeys (JWT_SIGNING_KEYS) are the ES256 keys this service signs access tokens with: PEM text, or
	// ssm:<parameter> / secretsmanager:<secret id> resolved at cold start (see auth.LoadKeyRing). Set only
	// on the functions that issue tokens or publish the JWKS; they also trust these keys in process.
	SigningKeys string
	// SigningKID (JWT_SIGNING_KID) is the kid of the key that signs; empty means the first private key.
	SigningKID string
	// AccessTTL (JWT_ACCESS_TTL) is the lifetime of issued access tokens; 0 (unset) means
	// auth.DefaultAccessTTL, 15 minutes.
	AccessTTL time.Duration
	// TrustedIssuers (JWT_TRUSTED_ISSUERS) is a JSON array of further issuers whose tokens are accepted
	// (Supabase, Cognito, another Corral); auth.ParseTrustedIssuers documents the format.
	TrustedIssuers string
}

// Load reads the configuration through getenv (os.Getenv in main, a map in tests).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Function:        r.str("FUNCTION_NAME", r.str("AWS_LAMBDA_FUNCTION_NAME", "corral")),
		LogLevel:        r.level("LOG_LEVEL", slog.LevelInfo),
		DatabaseURL:     r.url("DATABASE_URL", "postgres://corral_app@127.0.0.1:5432/corral?sslmode=disable"),
		DatabaseReadURL: r.url("DATABASE_READ_URL", ""),
		DatabaseMaxConn: int32(r.int("DATABASE_MAX_CONNS", 2, 1, 1000)),
		RedisURL:        r.url("REDIS_URL", "redis://127.0.0.1:6379/0"),
		JWT: JWT{
			Issuer:             r.str("JWT_ISSUER", ""),
			Audience:           r.str("JWT_AUDIENCE", ""),
			JWKSURL:            r.url("JWT_JWKS_URL", ""),
			PublicKey:          r.str("JWT_PUBLIC_KEY", ""),
			HS256Secret:        r.str("JWT_HS256_SECRET", ""),
			TenantClaim:        r.str("JWT_TENANT_CLAIM", "tenant_id"),
			Leeway:             r.duration("JWT_LEEWAY", 30*time.Second),
			TrustGatewayClaims: r.bool("AUTH_TRUST_GATEWAY_CLAIMS", false),
			SigningKeys:        r.str("JWT_SIGNING_KEYS", ""),
			SigningKID:         r.str("JWT_SIGNING_KID", ""),
			AccessTTL:          r.duration("JWT_ACCESS_TTL", 0),
			TrustedIssuers:     r.str("JWT_TRUSTED_ISSUERS", ""),
		},
		CORSAllowedOrigins: r.list("CORS_ALLOWED_ORIGINS"),
		MaxBodyBytes:       int64(r.int("MAX_BODY_BYTES", 1<<20, 1, 6<<20)),
		CursorSecret:       []byte(r.str("CURSOR_SECRET", "")),
		IdempotencyTTL:     r.duration("IDEMPOTENCY_TTL", 24*time.Hour),
		IdempotencyStore:   r.oneOf("IDEMPOTENCY_STORE", "postgres", "postgres", "dynamodb"),
		RateLimitOverrides: r.str("RATE_LIMIT_OVERRIDES", ""),
		AuditQueueSize:     r.int("AUDIT_QUEUE_SIZE", 1024, 1, 1<<20),
		PasswordMemoryKiB:  r.int("PASSWORD_ARGON2_MEMORY_KIB", 0, 0, 1<<20),
		DevMode:            r.bool("CORRAL_DEV", false),
		AuditRetention:     r.duration("AUDIT_RETENTION", 90*24*time.Hour),
		MetricsNamespace:   r.str("METRICS_NAMESPACE", "Corral"),

		DatabaseMaintenanceURL: r.url("DATABASE_MAINTENANCE_URL", ""),
		SQSEndpoint:            r.url("SQS_ENDPOINT", ""),
		AWSRegion:              r.str("AWS_REGION", "us-east-1"),
		IdempotencyTable:       r.str("IDEMPOTENCY_TABLE", ""),
		DynamoDBEndpoint:       r.url("DYNAMODB_ENDPOINT", ""),
		StripeWebhookSecret:    r.str("STRIPE_WEBHOOK_SECRET", ""),
		WebhookAllowedHosts:    r.list("WEBHOOK_ALLOWED_HOSTS"),
		PII: PII{
			KeyProvider:    r.oneOf("PII_KEY_PROVIDER", "local", "local", "kms"),
			LocalKeys:      r.str("PII_LOCAL_KEYS", ""),
			KMSKeyID:       r.str("PII_KMS_KEY_ID", ""),
			BlindIndexKeys: r.str("BLIND_INDEX_KEYS", ""),
		},
	}
	for _, name := range QueueNames() {
		if u := r.url("QUEUE_URL_"+strings.ToUpper(name), ""); u != "" {
			if c.Queues == nil {
				c.Queues = map[string]string{}
			}
			c.Queues[name] = u
		}
	}
	if len(c.CursorSecret) < 32 {
		r.fail("CURSOR_SECRET", "must be set to at least 32 bytes")
	}
	if c.PII.KeyProvider == "local" && c.PII.LocalKeys == "" {
		r.fail("PII_LOCAL_KEYS", "must be set when PII_KEY_PROVIDER is local")
	}
	if c.PII.KeyProvider == "kms" && c.PII.KMSKeyID == "" {
		r.fail("PII_KMS_KEY_ID", "must be set when PII_KEY_PROVIDER is kms")
	}
	if c.PII.BlindIndexKeys == "" {
		r.fail("BLIND_INDEX_KEYS", "must be set")
	}
	if c.IdempotencyStore == "dynamodb" && c.IdempotencyTable == "" {
		r.fail("IDEMPOTENCY_TABLE", "must be set when IDEMPOTENCY_STORE is dynamodb")
	}
	if s := c.StripeWebhookSecret; s != "" && (!strings.HasPrefix(s, "whsec_") || len(s) < 16) {
		r.fail("STRIPE_WEBHOOK_SECRET", "must be a Stripe signing secret (whsec_...)")
	}
	if c.JWT.Issuer == "" && !c.JWT.TrustGatewayClaims {
		r.fail("JWT_ISSUER", "must be set")
	}
	if c.JWT.Audience == "" && !c.JWT.TrustGatewayClaims {
		r.fail("JWT_AUDIENCE", "must be set")
	}
	if c.JWT.JWKSURL == "" && c.JWT.PublicKey == "" && c.JWT.HS256Secret == "" && c.JWT.SigningKeys == "" && !c.JWT.TrustGatewayClaims {
		r.fail("JWT_JWKS_URL", "one of JWT_JWKS_URL, JWT_PUBLIC_KEY, JWT_HS256_SECRET or JWT_SIGNING_KEYS must be set")
	}
	if c.JWT.AccessTTL > 24*time.Hour {
		r.fail("JWT_ACCESS_TTL", "must be at most 24h (access tokens cannot be revoked; sessions refresh instead)")
	}
	if s := c.JWT.HS256Secret; s != "" && len(s) < 32 {
		r.fail("JWT_HS256_SECRET", "must be at least 32 bytes")
	}
	return c, errors.Join(r.errs...)
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, reason string) {
	r.errs = append(r.errs, fmt.Errorf("config: %s %s", name, reason))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) url(name, def string) string {
	v := r.str(name, def)
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
		r.fail(name, "must be an absolute URL")
	}
	return v
}

func (r *reader) int(name string, def, lo, hi int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("must be a whole number from %d to %d, got %q", lo, hi, v))
		return def
	}
	return n
}

func (r *reader) bool(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, fmt.Sprintf("must be true or false, got %q", v))
		return def
	}
	return b
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, fmt.Sprintf("must be a positive duration such as 30s or 24h, got %q", v))
		return def
	}
	return d
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, fmt.Sprintf("must be debug, info, warn or error, got %q", v))
		return def
	}
	return l
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), v))
	return def
}

func (r *reader) list(name string) []string {
	var out []string
	for _, s := range strings.Split(r.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
