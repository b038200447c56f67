// Package platform assembles a function: it builds the shared clients once per cold start (Deps), turns a
// function's route table into the one http.Handler that Lambda, the local runner and the tests all serve,
// and starts the Lambda runtime.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/seal"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Deps are the clients a function shares across invocations. Building them makes no connection; a cold
// start then makes the first Postgres and Redis connections in the background (Warm) while it builds the
// rest and takes its first event, and a request that needs one before it is made waits for it instead of
// dialling another.
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
	SQS *sqsx.Client
	// Maintenance is a pool for scheduled maintenance that works across tenants; nil unless
	// DATABASE_MAINTENANCE_URL is set.
	Maintenance *pgxpool.Pool
	// KeyRing holds the token signing keys (JWT_SIGNING_KEYS) and Issuer signs access tokens with it; both
	// are nil unless JWT_SIGNING_KEYS is set. The Verifier trusts the ring's keys in process.
	KeyRing *auth.KeyRing
	Issuer  *auth.Issuer
	// Sealer encrypts personal data at rest (PII_KEY_PROVIDER: local keys or KMS) and BlindIndex indexes
	// email addresses (BLIND_INDEX_KEYS); see shared/seal. Sealer is nil when PII_KEY_PROVIDER is kms and
	// the function was not built WithKMS: take it with RequireSealer.
	Sealer     *seal.Sealer
	BlindIndex *seal.BlindIndex

	// Why Sealer / Idempotency are nil, when they are.
	sealerErr, idempotencyErr error
	closers                   []func()
	// redisGate holds Redis commands while Warm makes the first connection.
	redisGate *redisGate
	// auditLost is the count of audit events dropped or failed that settle last reported. Only settle uses
	// it, and Lambda runs one invocation at a time in a process.
	auditLost uint64
}

// Option adds an optional part to a function's Deps. The parts that need an AWS service client (KMS,
// SSM and Secrets Manager, DynamoDB) live in packages of their own and are passed by the main.go of the
// functions that use them, so every other function neither links those SDK packages (megabytes each) nor
// runs their package initialisation at every cold start. The template grants each function the AWS
// permissions of exactly these parts; a test in functions/ keeps main.go, the link set and the template's
// policies in step.
type Option func(*parts)

type parts struct {
	kms     func(ctx context.Context, region, keyID string) (seal.KeyProvider, error)
	keyRefs func(ctx context.Context, region, value, activeKID string) (*auth.KeyRing, error)
	dynamo  func(ctx context.Context, region, endpoint, table string) (idempotency.Store, error)
}

// WithKMS lets PII_KEY_PROVIDER=kms seal personal data with AWS KMS; pass sealkms.Provider.
func WithKMS(provider func(ctx context.Context, region, keyID string) (seal.KeyProvider, error)) Option {
	return func(p *parts) { p.kms = provider }
}

// WithKeyReferences lets JWT_SIGNING_KEYS be an ssm: or secretsmanager: reference, resolved at cold
// start; pass keyrefs.Loader.
func WithKeyReferences(loader func(ctx context.Context, region, value, activeKID string) (*auth.KeyRing, error)) Option {
	return func(p *parts) { p.keyRefs = loader }
}

// WithDynamoDB lets IDEMPOTENCY_STORE=dynamodb keep idempotency records in DynamoDB; pass
// dynamo.OpenIdempotencyStore.
func WithDynamoDB(open func(ctx context.Context, region, endpoint, table string) (idempotency.Store, error)) Option {
	return func(p *parts) { p.dynamo = open }
}

// RequireSealer returns the Sealer of personal data, or panics naming why there is none (PII_KEY_PROVIDER
// is kms and the function was not built WithKMS): a route table that seals calls it, so the mistake stops
// the cold start (and every test that builds the function) instead of the first request.
func (d *Deps) RequireSealer() *seal.Sealer {
	if d.Sealer == nil {
		panic(fmt.Sprintf("platform: %s seals personal data: %v", d.Config.Function, d.sealerErr))
	}
	return d.Sealer
}

// NewDeps builds every client from cfg without connecting. It fails only on configuration that cannot
// work (an unparsable URL, a bad key, bad overrides, a key reference without WithKeyReferences), naming what
// is wrong.
func NewDeps(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Deps, error) {
	return newDeps(ctx, cfg, log, nil, opts)
}

// newDeps is NewDeps that, when warm is set, calls it with each of the Postgres and Redis clients as soon
// as that client exists, before the rest is built: a cold start starts connecting first.
func newDeps(ctx context.Context, cfg config.Config, log *slog.Logger, warm func(*Deps, dependency), opts []Option) (*Deps, error) {
	var p parts
	for _, o := range opts {
		o(&p)
	}
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
	if warm != nil {
		warm(d, depPostgres)
	}

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: REDIS_URL: %w", err)
	}
	// Short timeouts: a slow Redis must not hold a request; the limiter fails open (or closed for
	// sensitive routes) instead.
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = 500*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	// One dial attempt and one retry, as ratelimit.New advises (go-redis otherwise dials 5 times, 100ms
	// apart, and retries a command 3 times: a Redis that is down held each request for seconds).
	ropts.DialerRetries, ropts.MaxRetries = 1, 1
	ropts.PoolSize, ropts.MinIdleConns = 4, 0
	// A new connection sends HELLO and nothing else: no CLIENT SETINFO (the library's name, one round trip)
	// and no CLIENT MAINT_NOTIFICATIONS (smooth handoffs during a Redis Enterprise cluster's maintenance;
	// ElastiCache and this Redis reject it, another round trip, at every cold start).
	ropts.DisableIdentity = true
	ropts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	d.Redis = redis.NewClient(ropts)
	d.redisGate = &redisGate{}
	d.Redis.AddHook(d.redisGate)
	d.closers = append(d.closers, func() { _ = d.Redis.Close() })
	if warm != nil {
		warm(d, depRedis)
	}

	overrides, err := ratelimit.ParseOverrides(cfg.RateLimitOverrides)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: RATE_LIMIT_OVERRIDES: %w", err)
	}
	d.Limiter = ratelimit.New(d.Redis, overrides, ratelimit.WithLogger(log))

	if cfg.JWT.SigningKeys != "" {
		if d.KeyRing, err = loadKeyRing(ctx, cfg, p.keyRefs); err != nil {
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
		if p.dynamo == nil {
			// Only routes with an Idempotency mode need the store: Handler refuses those without it.
			d.idempotencyErr = errors.New("IDEMPOTENCY_STORE=dynamodb needs platform.WithDynamoDB(dynamo.OpenIdempotencyStore) in the function's main.go")
			break
		}
		if d.Idempotency, err = p.dynamo(ctx, cfg.AWSRegion, cfg.DynamoDBEndpoint, cfg.IdempotencyTable); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: DynamoDB idempotency store: %w", err)
		}
	default:
		d.Close()
		return nil, errors.New("platform: IDEMPOTENCY_STORE=" + cfg.IdempotencyStore + " is not available in this build")
	}

	d.Audit = audit.NewWriter(postgres.NewAuditSink(d.DB), log, cfg.AuditQueueSize)

	if d.Sealer, d.BlindIndex, d.sealerErr, err = newPII(ctx, cfg, p.kms); err != nil {
		d.Close()
		return nil, fmt.Errorf("platform: %w", err)
	}

	d.SQS = newSQS(cfg)
	if cfg.DatabaseMaintenanceURL != "" {
		if d.Maintenance, err = postgres.Open(ctx, cfg.DatabaseMaintenanceURL, 2); err != nil {
			d.Close()
			return nil, fmt.Errorf("platform: DATABASE_MAINTENANCE_URL: %w", err)
		}
		d.closers = append(d.closers, d.Maintenance.Close)
		if warm != nil {
			warm(d, depMaintenance)
		}
	}
	return d, nil
}

// auditFlushTimeout bounds a wait for the audit log's pending writes: after an invocation that recorded
// events (settle), and in Close. A write is one insert; the bound only matters when Postgres is slow or
// down, and then an audited response (a 401, a 429) is late by at most this much.
const auditFlushTimeout = 300 * time.Millisecond

// Close flushes the audit log (bounded wait) and closes every client. Safe to call once.
func (d *Deps) Close() {
	if d.Audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), auditFlushTimeout)
		_ = d.Audit.Close(ctx)
		cancel()
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// loadKeyRing builds the signing key ring from JWT_SIGNING_KEYS. PEM text needs no network; an ssm: or
// secretsmanager: reference is resolved here, at cold start, through keyRefs (WithKeyReferences), with one
// call bounded by 5 s, so a missing parameter or permission fails the start with a message instead of the
// first sign-in.
func loadKeyRing(ctx context.Context, c config.Config, keyRefs func(ctx context.Context, region, value, activeKID string) (*auth.KeyRing, error)) (*auth.KeyRing, error) {
	value := strings.TrimSpace(c.JWT.SigningKeys)
	if !auth.IsKeyReference(value) {
		return auth.ParseKeyRing(value, c.JWT.SigningKID)
	}
	if keyRefs == nil {
		return nil, errors.New("the value is a key reference, and this function was built without platform.WithKeyReferences(keyrefs.Loader)")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return keyRefs(ctx, c.AWSRegion, value, c.JWT.SigningKID)
}

// newPII builds the sealer of personal data and the email blind index from cfg.PII, without a network
// call (a KMS client is only configured here). With PII_KEY_PROVIDER=kms and no kms provider
// (WithKMS) the sealer is nil and unavailable says why: only the functions that seal are built with it.
func newPII(ctx context.Context, c config.Config, kms func(ctx context.Context, region, keyID string) (seal.KeyProvider, error)) (_ *seal.Sealer, _ *seal.BlindIndex, unavailable, err error) {
	bidx, err := seal.ParseBlindIndex(c.PII.BlindIndexKeys)
	if err != nil {
		return nil, nil, nil, err
	}
	var kp seal.KeyProvider
	switch c.PII.KeyProvider {
	case "local":
		if kp, err = seal.ParseLocalKeys(c.PII.LocalKeys); err != nil {
			return nil, nil, nil, err
		}
	case "kms":
		if kms == nil {
			return nil, bidx, errors.New("PII_KEY_PROVIDER=kms needs platform.WithKMS(sealkms.Provider) in the function's main.go"), nil
		}
		if kp, err = kms(ctx, c.AWSRegion, c.PII.KMSKeyID); err != nil {
			return nil, nil, nil, err
		}
	default:
		return nil, nil, nil, errors.New("PII_KEY_PROVIDER=" + c.PII.KeyProvider + " is not available in this build")
	}
	return seal.New(kp), bidx, nil, nil
}

// newSQS builds the SQS client from the Lambda environment (region and credentials, see shared/awsenv);
// with an endpoint (the local SQS server) it uses that endpoint with static local credentials. It makes no
// network call.
func newSQS(c config.Config) *sqsx.Client {
	cfg := awsenv.Config(os.Getenv, awsenv.Options{Region: c.AWSRegion, Endpoint: c.SQSEndpoint})
	return sqsx.NewClient(cfg, c.SQSEndpoint)
}
