package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rocker-app/corral/shared/config"
)

// Errors returned by Verify and FromGatewayClaims. Every error they return wraps ErrInvalidToken or
// ErrNoTenant (test with errors.Is) and adds a reason meant for logs, not for clients.
var (
	// ErrInvalidToken means the credentials cannot be trusted: malformed, badly signed, expired, for another
	// issuer or audience, without a usable sub. Callers answer 401.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrNoTenant means the token is valid but carries no tenant claim that is a UUID. Callers answer 403.
	ErrNoTenant = errors.New("auth: token has no usable tenant")
	// ErrKeysUnavailable is wrapped, together with ErrInvalidToken, when a token could not be checked because
	// the JWKS has never been fetched successfully (the issuer is unreachable or answers garbage). Callers
	// that want to tell an outage from bad credentials may answer 503 for it; others still see a 401.
	ErrKeysUnavailable = errors.New("auth: signing keys unavailable")
)

// maxTokenBytes bounds the size of a token the verifier will parse.
const maxTokenBytes = 16 << 10

// supportedAlgs lists every JWS algorithm a key may be pinned to. "none" is never among them.
var supportedAlgs = []string{
	"ES256", "ES384", "ES512",
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"EdDSA", "HS256",
}

// Verifier turns bearer tokens into Principals. It trusts keys from any combination of a JWKS URL (fetched
// lazily, cached for an hour, refetched at most every 30 s when a token names an unknown kid), a static public
// key and an HS256 shared secret. Each key verifies exactly one algorithm. Verified tokens are cached until
// they expire. Build one with NewVerifier; a Verifier is safe for concurrent use.
type Verifier struct {
	static       *keySet     // the PEM / JWK / JWKS public keys and the HS256 secret; nil when none
	jwks         *jwksSource // nil without a JWKS URL
	parser       *jwt.Parser
	mapper       claimMapper
	cache        *tokenCache
	leeway       time.Duration
	trustGateway bool
	now          func() time.Time
}

// verifierOptions are the knobs tests turn; NewVerifier uses the real clock and the default cache size.
type verifierOptions struct {
	now       func() time.Time
	cacheSize int // 0 disables the cache
	ring      *KeyRing
}

// VerifierOption adjusts a Verifier built by NewVerifier.
type VerifierOption func(*verifierOptions)

// WithKeyRing makes the Verifier trust ring's public keys (each pinned to ES256 under its kid) for tokens
// of the configured issuer, in process: a function that signs tokens verifies them without fetching its own
// JWKS. The ring counts as a key source. A nil ring changes nothing.
func WithKeyRing(ring *KeyRing) VerifierOption {
	return func(o *verifierOptions) { o.ring = ring }
}

// NewVerifier builds a Verifier from cfg. client fetches the JWKS; nil means a client with a 10 s timeout.
// It fails, with an error naming the problem, when cfg has no key source and does not trust gateway claims,
// when a key source is set without Issuer and Audience, when PublicKey holds no usable key, when the
// HS256 secret is shorter than 32 bytes, when JWKSURL is not an http(s) URL, or when TenantClaim is malformed.
// It does not contact the JWKS URL.
func NewVerifier(cfg config.JWT, client *http.Client, opts ...VerifierOption) (*Verifier, error) {
	o := verifierOptions{now: time.Now, cacheSize: defaultCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	return newVerifier(cfg, client, o)
}

func newVerifier(cfg config.JWT, client *http.Client, o verifierOptions) (*Verifier, error) {
	mapper, err := newClaimMapper(cfg.TenantClaim)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: negative leeway %s", cfg.Leeway)
	}
	v := &Verifier{
		mapper:       mapper,
		cache:        newTokenCache(o.cacheSize),
		leeway:       cfg.Leeway,
		trustGateway: cfg.TrustGatewayClaims,
		now:          o.now,
	}

	hasKeys := cfg.JWKSURL != "" || cfg.PublicKey != "" || cfg.HS256Secret != "" || o.ring != nil
	if !hasKeys {
		if !cfg.TrustGatewayClaims {
			return nil, errors.New("auth: no key source: set a JWKS URL, a public key or an HS256 secret")
		}
		return v, nil
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: issuer and audience are required to verify tokens")
	}

	var static []verifyKey
	if o.ring != nil {
		static = append(static, o.ring.verifyKeys()...)
	}
	if cfg.PublicKey != "" {
		keys, err := parseStaticKeys(cfg.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		static = append(static, keys...)
	}
	if cfg.HS256Secret != "" {
		if len(cfg.HS256Secret) < 32 {
			return nil, errors.New("auth: HS256 secret must be at least 32 bytes")
		}
		static = append(static, verifyKey{alg: "HS256", key: []byte(cfg.HS256Secret)})
	}
	if len(static) > 0 {
		v.static = newKeySet(static)
	}

	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("auth: JWKS URL %q is not an http(s) URL", cfg.JWKSURL)
		}
		if client == nil {
			client = &http.Client{Timeout: jwksFetchTimeout}
		}
		v.jwks = &jwksSource{url: cfg.JWKSURL, client: client, now: o.now}
	}

	v.parser = jwt.NewParser(
		jwt.WithValidMethods(supportedAlgs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(o.now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Verify checks token (the compact JWS, without "Bearer ") and returns its Principal. The token must be signed
// by a trusted key with the algorithm pinned to that key, name the configured issuer and audience, carry exp,
// and be within exp, nbf and iat give or take the leeway. Errors wrap ErrInvalidToken (and ErrKeysUnavailable
// when the JWKS could not be fetched) or, for a valid token without a UUID tenant, ErrNoTenant.
// A token verified before and not yet expired is answered from the cache without a signature check.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	if len(token) > maxTokenBytes {
		return Principal{}, fmt.Errorf("%w: token of %d bytes exceeds %d", ErrInvalidToken, len(token), maxTokenBytes)
	}
	now := v.now()
	if p, ok := v.cache.get(token, now); ok {
		return p, nil
	}
	if v.parser == nil {
		return Principal{}, fmt.Errorf("%w: no verification keys configured (gateway claims only)", ErrInvalidToken)
	}

	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	}); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p, err := v.mapper.principal(claims)
	if err != nil {
		return Principal{}, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		v.cache.put(token, p, exp.Time, now)
	}
	return p, nil
}

// keyFor selects the key for a parsed but unverified token: by kid among the static keys, then the JWKS
// (refetched, rate-limited, when the kid is unknown), then the single kid-less key pinned to the token's alg;
// without a kid, the single key pinned to the token's alg, static keys first. A key whose pinned alg differs
// from the token's is refused.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid := ""
	if raw, ok := t.Header["kid"]; ok {
		s, isString := raw.(string)
		if !isString {
			return nil, errors.New("kid header is not a string")
		}
		kid = s
	}

	k, ok, err := v.static.find(kid, alg)
	if err != nil || ok {
		return k.key, err
	}

	var unavailable error // set when no JWKS key set could be loaded at all
	reason := "no key"
	// A JWKS never holds HMAC keys (parseJWKS refuses kty oct), so HS256 tokens never cause a fetch.
	if v.jwks != nil && alg != "HS256" {
		set, err := v.jwks.current(ctx)
		if err != nil {
			unavailable = err
		}
		if k, ok, err := set.find(kid, alg); err != nil || ok {
			return k.key, err
		}
		if kid != "" && set != nil {
			refreshed, fetched, err := v.jwks.refresh(ctx)
			switch {
			case !fetched:
				reason = "unknown kid, JWKS refetch rate-limited"
			case err != nil:
				reason = fmt.Sprintf("unknown kid, JWKS refetch failed (%v)", err)
			default:
				reason = "unknown kid after JWKS refetch"
			}
			if k, ok, err := refreshed.find(kid, alg); err != nil || ok {
				return k.key, err
			}
		}
	}
	if kid != "" {
		if k, ok, err := v.static.findKidless(alg); err != nil || ok {
			return k.key, err
		}
	}
	if unavailable != nil {
		return nil, fmt.Errorf("%w: kid %q alg %s: %w", ErrKeysUnavailable, kid, alg, unavailable)
	}
	return nil, fmt.Errorf("%s for kid %q alg %s", reason, kid, alg)
}

// FromGatewayClaims maps the claims an API Gateway HTTP API JWT authorizer passes to the function
// (requestContext.authorizer.jwt.claims) to a Principal with the same rules as Verify. The authorizer has
// already checked signature, issuer and audience; nested values arrive stringified (JSON, {k=v, ...} or
// map[k:v ...]; arrays as JSON or [a b]) and are decoded here. Errors wrap ErrInvalidToken when the Verifier
// was not configured to trust gateway claims, sub is missing or not a UUID, or exp is unreadable or past
// (with the leeway); they wrap ErrNoTenant when the tenant claim is missing or not a UUID.
func (v *Verifier) FromGatewayClaims(claims map[string]string) (Principal, error) {
	if !v.trustGateway {
		return Principal{}, fmt.Errorf("%w: gateway claims are not trusted by configuration", ErrInvalidToken)
	}
	if raw, ok := claims["exp"]; ok && strings.TrimSpace(raw) != "" {
		secs, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return Principal{}, fmt.Errorf("%w: exp %q is not a number", ErrInvalidToken, raw)
		}
		whole, frac := math.Modf(secs)
		exp := time.Unix(int64(whole), int64(frac*1e9))
		if !v.now().Before(exp.Add(v.leeway)) {
			return Principal{}, fmt.Errorf("%w: token expired at %s", ErrInvalidToken, exp.UTC().Format(time.RFC3339))
		}
	}
	return v.mapper.principal(decodeGatewayClaims(claims))
}
