package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
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

// Verifier turns bearer tokens into Principals. It trusts the primary issuer (JWT_ISSUER, with keys from any
// combination of a JWKS URL, a static public key, an HS256 shared secret and a KeyRing) and any further
// issuers of JWT_TRUSTED_ISSUERS. A token is matched to one issuer by its iss claim and verified with that
// issuer's keys only. A JWKS is fetched lazily, cached for an hour and refetched at most every 30 s when a
// token names an unknown kid. Each key verifies exactly one algorithm. Verified tokens are cached until they
// expire. Build one with NewVerifier; a Verifier is safe for concurrent use.
type Verifier struct {
	primary      *trustedIssuer            // nil when only gateway claims are trusted
	issuers      map[string]*trustedIssuer // by iss, the primary included
	mapper       claimMapper               // the primary's, for gateway claims
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
// It fails, with an error naming the problem, when cfg has no key source (and no WithKeyRing) and does not
// trust gateway claims, when a key source is set without Issuer and Audience, when PublicKey holds no usable
// key, when the HS256 secret is shorter than 32 bytes, when JWKSURL is not an http(s) URL, when TenantClaim
// is malformed, or when TrustedIssuers is malformed, names an issuer twice or holds an entry failing these
// same checks. It does not contact any JWKS URL.
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
		issuers:      map[string]*trustedIssuer{},
		mapper:       mapper,
		cache:        newTokenCache(o.cacheSize),
		leeway:       cfg.Leeway,
		trustGateway: cfg.TrustGatewayClaims,
		now:          o.now,
	}

	trusted, err := ParseTrustedIssuers(cfg.TrustedIssuers)
	if err != nil {
		return nil, fmt.Errorf("auth: JWT_TRUSTED_ISSUERS: %w", err)
	}
	hasKeys := cfg.JWKSURL != "" || cfg.PublicKey != "" || cfg.HS256Secret != "" || o.ring != nil
	switch {
	case hasKeys:
		var ring []verifyKey
		if o.ring != nil {
			ring = o.ring.verifyKeys()
		}
		primary := TrustedIssuer{
			Kind: KindCorral, Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL, PublicKey: cfg.PublicKey,
			HS256Secret: cfg.HS256Secret, TenantClaim: mapper.tenantClaim,
		}
		if cfg.Audience != "" {
			primary.Audience = Audiences{cfg.Audience}
		}
		if v.primary, err = newTrustedIssuer(primary, ring, client, cfg.Leeway, o.now); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		v.issuers[v.primary.iss] = v.primary
	case !cfg.TrustGatewayClaims:
		return nil, errors.New("auth: no key source: set a JWKS URL, a public key or an HS256 secret")
	}
	for i, t := range trusted {
		ti, err := newTrustedIssuer(t, nil, client, cfg.Leeway, o.now)
		if err != nil {
			return nil, fmt.Errorf("auth: JWT_TRUSTED_ISSUERS[%d]: %w", i, err)
		}
		if _, dup := v.issuers[ti.iss]; dup {
			return nil, fmt.Errorf("auth: JWT_TRUSTED_ISSUERS[%d]: issuer %q is configured twice", i, ti.iss)
		}
		v.issuers[ti.iss] = ti
	}
	return v, nil
}

// Verify checks token (the compact JWS, without "Bearer ") and returns its Principal. The token's iss picks
// the trusted issuer; it must be signed by one of that issuer's keys with the algorithm pinned to the key,
// name that issuer and an accepted audience, carry exp, be within exp, nbf and iat give or take the leeway,
// and pass the issuer kind's checks (Cognito's token_use and client_id). Errors wrap ErrInvalidToken (and
// ErrKeysUnavailable when the JWKS could not be fetched) or, for a valid token without a UUID tenant,
// ErrNoTenant. A token verified before and not yet expired is answered from the cache without a signature
// check.
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
	ti, err := v.issuerFor(token)
	if err != nil {
		return Principal{}, err
	}

	claims := jwt.MapClaims{}
	if _, err := ti.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return ti.keyFor(ctx, t)
	}); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := ti.checkClaims(claims); err != nil {
		return Principal{}, err
	}
	p, err := ti.mapper.principal(claims)
	if err != nil {
		return Principal{}, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		v.cache.put(token, p, exp.Time, now)
	}
	return p, nil
}

// issuerFor picks the issuer whose keys verify token: the only one when a single issuer is trusted (its
// parser then reports a wrong iss), else the one named by the token's unverified iss claim.
func (v *Verifier) issuerFor(token string) (*trustedIssuer, error) {
	switch len(v.issuers) {
	case 0:
		return nil, fmt.Errorf("%w: no verification keys configured (gateway claims only)", ErrInvalidToken)
	case 1:
		for _, ti := range v.issuers {
			return ti, nil
		}
	}
	iss, err := peekIssuer(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	ti, ok := v.issuers[iss]
	if !ok {
		return nil, fmt.Errorf("%w: issuer %q is not trusted", ErrInvalidToken, iss)
	}
	return ti, nil
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
