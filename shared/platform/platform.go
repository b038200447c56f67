// Package platform assembles a function: it builds the shared clients once per cold start (Deps), turns a
// function's route table into the one http.Handler that Lambda, the local runner and the tests all serve,
// and starts the Lambda runtime.
package platform

import (
	"context"

	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/seal"
)

// Deps are the clients a function shares across invocations. Connections are made lazily, on first use, so
// a cold start waits on no dependency.
type Deps struct {
	Config      config.Config
	Log         *slog.Logger
	DB          *postgres.DB
	Redis       *redis.Client
	Limiter     *ratelimit.Limiter
	Verifier    *auth.Verifier
	Idempotency idempotency.Store
	Audit       *audit.Writer
	Cursors     *httpapi.Cursors
	// SQS is the queue client (pointed at SQS_ENDPOINT when set); queue URLs are in Config.Queues.
	SQS *sqs.Client
	// Maintenance is a pool for scheduled maintenance that works across tenants; nil unless
	// DATABASE_MAINTENANCE_URL is set.
	Maintenance *pgxpool.Pool
	// DynamoDB is the DynamoDB client (pointed at DYNAMODB_ENDPOINT when set); nil unless
	// IDEMPOTENCY_STORE is dynamodb.
	DynamoDB *dynamodb.Client
	// KeyRing holds the token signing keys (JWT_SIGNING_KEYS) and Issuer signs access tokens with it; both
	// are nil unless JWT_SIGNING_KEYS is set. The Verifier trusts the ring's keys in process.
	KeyRing *auth.KeyRing
	Issuer  *auth.Issuer
	// Sealer encrypts personal data at rest (PII_KEY_PROVIDER: local keys or KMS) and BlindIndex indexes
	// email addresses (BLIND_INDEX_KEYS); see shared/seal.
	Sealer     *seal.Sealer
	BlindIndex *seal.BlindIndex

	closers []func()
}

// NewDeps builds every client from cfg without connecting. It fails only on configuration that cannot
// work (an unparsable URL, a bad key, bad overrides), naming what is wrong.
func NewDeps(ctx context.Context, cfg config.Config, log *slog.Logger) (*Deps, error) {
	d := &Deps{Config: cfg, Log: log, Cursors: httpapi.NewCursors(cfg.CursorSecret)}
	write, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConn)
	if err != nil {
		return nil, fmt.Errorf("platform: DATABASE_URL: %w", err)
	}
	d.closers = append(d.closers, write.Close)
	read := write
	if cfg.DatabaseReadURL != "" {
		if read, err = postgres.Open(ctx, cfg.DatabaseReadURL, cfg.DatabaseMaxConn); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: DATABASE_READ_URL: %w", err)
		}
		d.closers = append(d.closers, read.Close)
	}
	d.DB = postgres.New(write, read)

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: REDIS_URL: %w", err)
	}
	// Short timeouts: a slow Redis must not hold a request; the limiter fails open (or closed for
	// sensitive routes) instead.
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = 500*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	ropts.PoolSize, ropts.MinIdleConns = 4, 0
	d.Redis = redis.NewClient(ropts)
	d.closers = append(d.closers, func() { _ = d.Redis.Close() })

	overrides, err := ratelimit.ParseOverrides(cfg.RateLimitOverrides)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: RATE_LIMIT_OVERRIDES: %w", err)
	}
	d.Limiter = ratelimit.New(d.Redis, overrides, ratelimit.WithLogger(log))

	if cfg.JWT.SigningKeys != "" {
		if d.KeyRing, err = loadKeyRing(ctx, cfg); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: JWT_SIGNING_KEYS: %w", err)
		}
		if d.Issuer, err = auth.NewIssuer(d.KeyRing, cfg.JWT.Issuer, cfg.JWT.Audience, cfg.JWT.AccessTTL); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: JWT settings: %w", err)
		}
	}
	if d.Verifier, err = auth.NewVerifier(cfg.JWT, &http.Client{Timeout: 3 * time.Second}, auth.WithKeyRing(d.KeyRing)); err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: JWT settings: %w", err)
	}

	switch cfg.IdempotencyStore {
	case "postgres":
		d.Idempotency = postgres.NewIdempotencyStore(d.DB)
	case "dynamodb":
		if d.DynamoDB, err = dynamo.NewClient(ctx, cfg.AWSRegion, cfg.DynamoDBEndpoint); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: DynamoDB client: %w", err)
		}
		d.Idempotency = dynamo.NewIdempotencyStore(d.DynamoDB, cfg.IdempotencyTable)
	default:
		d.Close()
		return nil, errors.New("platform: IDEMPOTENCY_STORE=" + cfg.IdempotencyStore + " is not available in this build")
	}

	d.Audit = audit.NewWriter(postgres.NewAuditSink(d.DB), log, cfg.AuditQueueSize)

	if d.Sealer, d.BlindIndex, err = newPII(ctx, cfg); err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: %w", err)
	}

	if d.SQS, err = newSQS(ctx, cfg); err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: SQS client: %w", err)
	}
	if cfg.DatabaseMaintenanceURL != "" {
		if d.Maintenance, err = postgres.Open(ctx, cfg.DatabaseMaintenanceURL, 2); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: DATABASE_MAINTENANCE_URL: %w", err)
		}
		d.closers = append(d.closers, d.Maintenance.Close)
	}
	return d, nil
}

// Close flushes the audit log (bounded wait) and closes every client. Safe to call once.
func (d *Deps) Close() {
	if d.Audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = d.Audit.Close(ctx)
		cancel()
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// loadKeyRing builds the signing key ring from JWT_SIGNING_KEYS. PEM text needs no network; an ssm: or
// secretsmanager: reference is resolved here, at cold start, with one call bounded by 5 s, so a missing
// parameter or permission fails the start with a message instead of the first sign-in. (Functions in the VPC
// reach SSM / Secrets Manager through their VPC interface endpoints or a NAT.)
func loadKeyRing(ctx context.Context, c config.Config) (*auth.KeyRing, error) {
	var src auth.KeySources
	if auth.IsKeyReference(c.JWT.SigningKeys) {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.AWSRegion))
		if err != nil {
			return nil, err
		}
		src = auth.KeySources{SSM: ssm.NewFromConfig(awsCfg), SecretsManager: secretsmanager.NewFromConfig(awsCfg)}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return auth.LoadKeyRing(ctx, c.JWT.SigningKeys, c.JWT.SigningKID, src)
}

// newPII builds the sealer of personal data and the email blind index from cfg.PII, without a network
// call: a KMS client is only configured here.
func newPII(ctx context.Context, c config.Config) (*seal.Sealer, *seal.BlindIndex, error) {
	bidx, err := seal.ParseBlindIndex(c.PII.BlindIndexKeys)
	if err != nil {
		return nil, nil, err
	}
	var kp seal.KeyProvider
	switch c.PII.KeyProvider {
	case "local":
		if kp, err = seal.ParseLocalKeys(c.PII.LocalKeys); err != nil {
			return nil, nil, err
		}
	case "kms":
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.AWSRegion))
		if err != nil {
			return nil, nil, fmt.Errorf("KMS client: %w", err)
		}
		if kp, err = seal.NewKMS(kms.NewFromConfig(awsCfg), c.PII.KMSKeyID, nil); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, errors.New("PII_KEY_PROVIDER=" + c.PII.KeyProvider + " is not available in this build")
	}
	return seal.New(kp), bidx, nil
}

// newSQS builds the SQS client from the Lambda environment (region and credentials); with an endpoint
// (the local SQS server) it uses that endpoint, the configured region and static local credentials.
// Loading the configuration makes no network call.
func newSQS(ctx context.Context, c config.Config) (*sqs.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.AWSRegion)}
	if c.SQSEndpoint != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if c.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.SQSEndpoint)
		}
	}), nil
}
