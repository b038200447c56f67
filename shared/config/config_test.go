package config_test

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/config"
)

// getenv reads from env as os.Getenv reads the process environment.
func getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

// validEnv is the least a function needs: the cursor secret, the issuer, the audience, one key source and
// the personal-data keys.
func validEnv() map[string]string {
	return map[string]string{
		"CURSOR_SECRET":    strings.Repeat("c", 32),
		"PII_LOCAL_KEYS":   testPIIKeys,
		"BLIND_INDEX_KEYS": testBlindIndexKeys,
		"JWT_ISSUER":       "https://auth.example.com",
		"JWT_AUDIENCE":     "corral",
		"JWT_HS256_SECRET": strings.Repeat("h", 32),
	}
}

// Key lists of the tests (config does not parse them; platform.NewDeps does).
const (
	testPIIKeys        = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	testBlindIndexKeys = "b1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

// with returns a copy of validEnv changed by kv (name, value pairs).
func with(kv ...string) map[string]string {
	env := validEnv()
	for i := 0; i < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func TestLoadEmptyEnvNamesEveryMissingVariable(t *testing.T) {
	t.Parallel()
	_, err := config.Load(getenv(nil))
	if err == nil {
		t.Fatal("Load of an empty environment succeeded")
	}
	for _, name := range []string{"CURSOR_SECRET", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL", "JWT_PUBLIC_KEY", "JWT_HS256_SECRET", "PII_LOCAL_KEYS", "BLIND_INDEX_KEYS"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.Load(getenv(validEnv()))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Function:        "corral",
		LogLevel:        slog.LevelInfo,
		DatabaseURL:     "postgres://corral_app@127.0.0.1:5432/corral?sslmode=disable",
		DatabaseMaxConn: 2,
		RedisURL:        "redis://127.0.0.1:6379/0",
		JWT: config.JWT{
			Issuer:      "https://auth.example.com",
			Audience:    "corral",
			HS256Secret: strings.Repeat("h", 32),
			TenantClaim: "tenant_id",
			Leeway:      30 * time.Second,
		},
		MaxBodyBytes:     1 << 20,
		CursorSecret:     []byte(strings.Repeat("c", 32)),
		IdempotencyTTL:   24 * time.Hour,
		IdempotencyStore: "postgres",
		AuditQueueSize:   1024,
		AuditRetention:   90 * 24 * time.Hour,
		MetricsNamespace: "Corral",
		AWSRegion:        "us-east-1",
		PII:              config.PII{KeyProvider: "local", LocalKeys: testPIIKeys, BlindIndexKeys: testBlindIndexKeys},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestLoadFullEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FUNCTION_NAME":             "horses",
		"LOG_LEVEL":                 "debug",
		"DATABASE_URL":              "postgres://app:pw@db.internal:5432/corral",
		"DATABASE_READ_URL":         "postgres://app:pw@replica.internal:5432/corral",
		"DATABASE_MAX_CONNS":        "5",
		"REDIS_URL":                 "rediss://cache.internal:6380/1",
		"JWT_ISSUER":                " https://auth.example.com ",
		"JWT_AUDIENCE":              "corral-api",
		"JWT_JWKS_URL":              "https://auth.example.com/.well-known/jwks.json",
		"JWT_PUBLIC_KEY":            "-----BEGIN PUBLIC KEY-----",
		"JWT_TENANT_CLAIM":          "app_metadata.tenant_id",
		"JWT_LEEWAY":                "5s",
		"AUTH_TRUST_GATEWAY_CLAIMS": "false",
		"CORS_ALLOWED_ORIGINS":      " https://a.example.com, ,https://b.example.com ",
		"MAX_BODY_BYTES":            "65536",
		"CURSOR_SECRET":             strings.Repeat("s", 40),
		"IDEMPOTENCY_TTL":           "1h30m",
		"IDEMPOTENCY_STORE":         "dynamodb",
		"IDEMPOTENCY_TABLE":         "corral-prod-IdempotencyTable-1ABC",
		"DYNAMODB_ENDPOINT":         "http://127.0.0.1:8000",
		"STRIPE_WEBHOOK_SECRET":     "whsec_0123456789abcdef",
		"RATE_LIMIT_OVERRIDES":      `{"t1":{"rate":5}}`,
		"AUDIT_QUEUE_SIZE":          "64",
		"AUDIT_RETENTION":           "720h",
		"METRICS_NAMESPACE":         "CorralProd",
		"AWS_REGION":                "eu-north-1",
		"SQS_ENDPOINT":              "http://127.0.0.1:9324",
		"QUEUE_URL_JOBS":            "http://127.0.0.1:9324/000000000000/jobs",
		"DATABASE_MAINTENANCE_URL":  "postgres://owner@db.internal:5432/corral",
		"PII_KEY_PROVIDER":          "kms",
		"PII_KMS_KEY_ID":            "alias/corral-pii",
		"BLIND_INDEX_KEYS":          testBlindIndexKeys,
	}
	got, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Function:        "horses",
		LogLevel:        slog.LevelDebug,
		DatabaseURL:     "postgres://app:pw@db.internal:5432/corral",
		DatabaseReadURL: "postgres://app:pw@replica.internal:5432/corral",
		DatabaseMaxConn: 5,
		RedisURL:        "rediss://cache.internal:6380/1",
		JWT: config.JWT{
			Issuer:      "https://auth.example.com",
			Audience:    "corral-api",
			JWKSURL:     "https://auth.example.com/.well-known/jwks.json",
			PublicKey:   "-----BEGIN PUBLIC KEY-----",
			TenantClaim: "app_metadata.tenant_id",
			Leeway:      5 * time.Second,
		},
		CORSAllowedOrigins: []string{"https://a.example.com", "https://b.example.com"},
		MaxBodyBytes:       65536,
		CursorSecret:       []byte(strings.Repeat("s", 40)),
		IdempotencyTTL:     90 * time.Minute,
		IdempotencyStore:   "dynamodb",
		RateLimitOverrides: `{"t1":{"rate":5}}`,
		AuditQueueSize:     64,
		AuditRetention:     720 * time.Hour,
		MetricsNamespace:   "CorralProd",

		DatabaseMaintenanceURL: "postgres://owner@db.internal:5432/corral",
		SQSEndpoint:            "http://127.0.0.1:9324",
		AWSRegion:              "eu-north-1",
		Queues:                 map[string]string{"jobs": "http://127.0.0.1:9324/000000000000/jobs"},
		IdempotencyTable:       "corral-prod-IdempotencyTable-1ABC",
		DynamoDBEndpoint:       "http://127.0.0.1:8000",
		StripeWebhookSecret:    "whsec_0123456789abcdef",
		PII:                    config.PII{KeyProvider: "kms", KMSKeyID: "alias/corral-pii", BlindIndexKeys: testBlindIndexKeys},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestLoadLogLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  slog.Level
	}{
		{"debug", slog.LevelDebug},
		{"INFO", slog.LevelInfo},
		{"warn", slog.LevelWarn},
		{"error", slog.LevelError},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load(getenv(with("LOG_LEVEL", tt.value)))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.LogLevel != tt.want {
				t.Errorf("LogLevel = %v, want %v", got.LogLevel, tt.want)
			}
		})
	}
}

func TestLoadBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		names string // the variable the error must name
	}{
		{"non-URL DATABASE_URL", with("DATABASE_URL", "not a url"), "DATABASE_URL"},
		{"DATABASE_URL without a host", with("DATABASE_URL", "postgres:///corral"), "DATABASE_URL"},
		{"non-URL DATABASE_READ_URL", with("DATABASE_READ_URL", "replica"), "DATABASE_READ_URL"},
		{"non-URL REDIS_URL", with("REDIS_URL", "127.0.0.1:6379"), "REDIS_URL"},
		{"non-URL JWT_JWKS_URL", with("JWT_JWKS_URL", "/jwks.json"), "JWT_JWKS_URL"},
		{"DATABASE_MAX_CONNS zero", with("DATABASE_MAX_CONNS", "0"), "DATABASE_MAX_CONNS"},
		{"DATABASE_MAX_CONNS too many", with("DATABASE_MAX_CONNS", "1001"), "DATABASE_MAX_CONNS"},
		{"DATABASE_MAX_CONNS not a number", with("DATABASE_MAX_CONNS", "two"), "DATABASE_MAX_CONNS"},
		{"MAX_BODY_BYTES over the Lambda payload", with("MAX_BODY_BYTES", "7000000"), "MAX_BODY_BYTES"},
		{"JWT_LEEWAY without a unit", with("JWT_LEEWAY", "30"), "JWT_LEEWAY"},
		{"JWT_LEEWAY negative", with("JWT_LEEWAY", "-5s"), "JWT_LEEWAY"},
		{"IDEMPOTENCY_TTL zero", with("IDEMPOTENCY_TTL", "0s"), "IDEMPOTENCY_TTL"},
		{"IDEMPOTENCY_TTL words", with("IDEMPOTENCY_TTL", "one day"), "IDEMPOTENCY_TTL"},
		{"AUTH_TRUST_GATEWAY_CLAIMS yes", with("AUTH_TRUST_GATEWAY_CLAIMS", "yes"), "AUTH_TRUST_GATEWAY_CLAIMS"},
		{"LOG_LEVEL verbose", with("LOG_LEVEL", "verbose"), "LOG_LEVEL"},
		{"IDEMPOTENCY_STORE redis", with("IDEMPOTENCY_STORE", "redis"), "IDEMPOTENCY_STORE"},
		{"IDEMPOTENCY_STORE dynamodb without a table", with("IDEMPOTENCY_STORE", "dynamodb"), "IDEMPOTENCY_TABLE"},
		{"non-URL DYNAMODB_ENDPOINT", with("DYNAMODB_ENDPOINT", "127.0.0.1:8000"), "DYNAMODB_ENDPOINT"},
		{"STRIPE_WEBHOOK_SECRET of another kind", with("STRIPE_WEBHOOK_SECRET", "sk_test_0123456789abcdef"), "STRIPE_WEBHOOK_SECRET"},
		{"STRIPE_WEBHOOK_SECRET too short", with("STRIPE_WEBHOOK_SECRET", "whsec_"), "STRIPE_WEBHOOK_SECRET"},
		{"short JWT_HS256_SECRET", with("JWT_HS256_SECRET", "short"), "JWT_HS256_SECRET"},
		{"short CURSOR_SECRET", with("CURSOR_SECRET", strings.Repeat("c", 31)), "CURSOR_SECRET"},
		{"PII_KEY_PROVIDER vault", with("PII_KEY_PROVIDER", "vault"), "PII_KEY_PROVIDER"},
		{"local PII keys missing", with("PII_LOCAL_KEYS", ""), "PII_LOCAL_KEYS"},
		{"kms without a key id", with("PII_KEY_PROVIDER", "kms"), "PII_KMS_KEY_ID"},
		{"BLIND_INDEX_KEYS missing", with("BLIND_INDEX_KEYS", ""), "BLIND_INDEX_KEYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(getenv(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.names) {
				t.Errorf("error %q does not name %s", err, tt.names)
			}
			if lines := strings.Count(err.Error(), "\n") + 1; lines != 1 {
				t.Errorf("error names %d problems, want only the bad variable: %q", lines, err)
			}
		})
	}
}

func TestLoadErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	const password = "hunter2-very-secret"
	env := with(
		"DATABASE_URL", "postgres://app:"+password+"@db internal/corral", // a space: not a URL
		"JWT_HS256_SECRET", password,
		"CURSOR_SECRET", password,
		"STRIPE_WEBHOOK_SECRET", password,
	)
	_, err := config.Load(getenv(env))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q shows a secret", err)
	}
}

func TestLoadTrustGatewayClaims(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CURSOR_SECRET":             strings.Repeat("c", 32),
		"AUTH_TRUST_GATEWAY_CLAIMS": "true",
		"PII_LOCAL_KEYS":            testPIIKeys,
		"BLIND_INDEX_KEYS":          testBlindIndexKeys,
	}
	got, err := config.Load(getenv(env))
	if err != nil {
		t.Fatalf("Load with gateway claims trusted and no issuer, audience or key: %v", err)
	}
	if !got.JWT.TrustGatewayClaims {
		t.Error("TrustGatewayClaims = false, want true")
	}

	// Trusting the gateway does not excuse a short secret when one is given anyway.
	env["JWT_HS256_SECRET"] = "short"
	if _, err := config.Load(getenv(env)); err == nil || !strings.Contains(err.Error(), "JWT_HS256_SECRET") {
		t.Errorf("Load with a short secret = %v, want an error naming JWT_HS256_SECRET", err)
	}
}

func TestLoadFunctionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"neither", nil, "corral"},
		{"Lambda's name only", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "corral-prod-horses"}, "corral-prod-horses"},
		{"FUNCTION_NAME only", map[string]string{"FUNCTION_NAME": "horses"}, "horses"},
		{"FUNCTION_NAME wins", map[string]string{"FUNCTION_NAME": "horses", "AWS_LAMBDA_FUNCTION_NAME": "corral-prod-horses"}, "horses"},
		{"blank FUNCTION_NAME falls through", map[string]string{"FUNCTION_NAME": "  ", "AWS_LAMBDA_FUNCTION_NAME": "corral-prod-horses"}, "corral-prod-horses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			maps.Copy(env, tt.env)
			got, err := config.Load(getenv(env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Function != tt.want {
				t.Errorf("Function = %q, want %q", got.Function, tt.want)
			}
		})
	}
}
