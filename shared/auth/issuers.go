package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Kinds of trusted issuer. The kind sets defaults and the checks beyond signature, iss, aud and times.
const (
	// KindCorral is this service's own tokens, or any issuer with plain claims (the default): tenant at
	// tenant_id, role at role / roles.
	KindCorral = "corral"
	// KindSupabase is Supabase Auth: tenant at app_metadata.tenant_id and role at app_metadata.role by
	// default, audience "authenticated" by default, keys from hs256_secret (the legacy JWT secret) and/or
	// the project's JWKS (<issuer>/.well-known/jwks.json, the default when no secret or key is given).
	KindSupabase = "supabase"
	// KindCognito is an Amazon Cognito user pool: issuer https://cognito-idp.<region>.amazonaws.com/<pool>
	// (or built from region and user_pool_id), keys from <issuer>/.well-known/jwks.json (RS256), tenant at
	// custom:tenant_id by default. token_use must be "access" or "id"; audience lists the app client ids,
	// checked against client_id in access tokens (which carry no aud) and against aud in id tokens.
	KindCognito = "cognito"
)

// TrustedIssuer is one entry of JWT_TRUSTED_ISSUERS: an issuer whose tokens are accepted besides the
// primary one (JWT_ISSUER). A token is matched to its issuer by its iss claim and verified with that
// issuer's keys only, each key pinned to one algorithm.
type TrustedIssuer struct {
	Kind        string    `json:"kind,omitempty"`         // KindCorral (default), KindSupabase or KindCognito
	Issuer      string    `json:"issuer,omitempty"`       // the exact iss
	Audience    Audiences `json:"audience,omitempty"`     // one string or an array; any one must match
	JWKSURL     string    `json:"jwks_url,omitempty"`     // keys fetched and cached as for JWT_JWKS_URL
	PublicKey   string    `json:"public_key,omitempty"`   // PEM, JWK or JWKS JSON, as JWT_PUBLIC_KEY
	HS256Secret string    `json:"hs256_secret,omitempty"` // at least 32 bytes
	TenantClaim string    `json:"tenant_claim,omitempty"` // as JWT_TENANT_CLAIM; the default depends on the kind
	// RoleClaim names one more claim (literal key or dotted path) whose string or array value adds roles,
	// e.g. "cognito:groups" or "custom:role". Empty by default: no roles are inferred from groups silently.
	RoleClaim string `json:"role_claim,omitempty"`
	// Region and UserPoolID build a Cognito issuer when Issuer is empty.
	Region     string `json:"region,omitempty"`
	UserPoolID string `json:"user_pool_id,omitempty"`
}

// Audiences is one audience or several; in JSON a string or an array of strings.
type Audiences []string

// UnmarshalJSON reads a string or an array of strings.
func (a *Audiences) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audiences{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("audience must be a string or an array of strings")
	}
	*a = many
	return nil
}

// ParseTrustedIssuers reads JWT_TRUSTED_ISSUERS, a JSON array of TrustedIssuer objects; for example
//
//	[{"kind":"supabase","issuer":"https://abc.supabase.co/auth/v1","hs256_secret":"..."},
//	 {"kind":"cognito","region":"eu-north-1","user_pool_id":"eu-north-1_AbC","audience":["web","ios"]}]
//
// Empty text means none. It fails on malformed JSON or an unknown member (a typo must not silently drop a
// check); the entries themselves are checked by NewVerifier.
func ParseTrustedIssuers(text string) ([]TrustedIssuer, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var out []TrustedIssuer
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("trusted issuers: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trusted issuers: trailing data after the array")
	}
	return out, nil
}

// cognitoIssuer matches a Cognito user pool's issuer; compiled on first use, not in every function's
// cold start (package initialisation runs before main whether or not a Cognito issuer is configured).
var cognitoIssuer = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+_[A-Za-z0-9]+$`)
})

// trustedIssuer is one issuer a Verifier accepts: its keys, its parser and its claim rules.
type trustedIssuer struct {
	iss       string
	kind      string
	static    *keySet     // PEM / JWK / JWKS public keys, a key ring's keys and the HS256 secret; nil when none
	jwks      *jwksSource // nil without a JWKS URL
	parser    *jwt.Parser
	mapper    claimMapper
	audiences []string // Cognito: accepted app client ids
}

// newTrustedIssuer applies the kind's defaults to t, checks it and builds its keys and parser. extra are
// keys trusted besides t's (a KeyRing's). It fails naming the problem; it makes no network call.
func newTrustedIssuer(t TrustedIssuer, extra []verifyKey, client *http.Client, leeway time.Duration, now func() time.Time) (*trustedIssuer, error) {
	kind := strings.ToLower(strings.TrimSpace(t.Kind))
	switch kind {
	case "", KindCorral:
		kind = KindCorral
		if t.TenantClaim == "" {
			t.TenantClaim = "tenant_id"
		}
	case KindSupabase:
		if t.TenantClaim == "" {
			t.TenantClaim = "app_metadata.tenant_id"
		}
		if len(t.Audience) == 0 {
			t.Audience = Audiences{"authenticated"}
		}
		if t.JWKSURL == "" && t.HS256Secret == "" && t.PublicKey == "" && t.Issuer != "" {
			t.JWKSURL = strings.TrimSuffix(t.Issuer, "/") + "/.well-known/jwks.json"
		}
	case KindCognito:
		if t.Issuer == "" && t.Region != "" && t.UserPoolID != "" {
			t.Issuer = "https://cognito-idp." + t.Region + ".amazonaws.com/" + t.UserPoolID
		}
		if !cognitoIssuer().MatchString(t.Issuer) {
			return nil, fmt.Errorf("cognito issuer %q is not https://cognito-idp.<region>.amazonaws.com/<user pool id>", t.Issuer)
		}
		if t.HS256Secret != "" {
			return nil, errors.New("cognito issuer: Cognito never signs with a shared secret; drop hs256_secret")
		}
		if t.TenantClaim == "" {
			t.TenantClaim = "custom:tenant_id"
		}
		if t.JWKSURL == "" && t.PublicKey == "" {
			t.JWKSURL = t.Issuer + "/.well-known/jwks.json"
		}
	default:
		return nil, fmt.Errorf("issuer %q: unknown kind %q (want corral, supabase or cognito)", t.Issuer, t.Kind)
	}
	var auds []string
	for _, a := range t.Audience {
		if a = strings.TrimSpace(a); a != "" {
			auds = append(auds, a)
		}
	}
	if t.Issuer == "" || len(auds) == 0 {
		return nil, errors.New("issuer and audience are required to verify tokens")
	}
	mapper, err := newClaimMapper(t.TenantClaim)
	if err != nil {
		return nil, err
	}
	if mapper, err = mapper.withRoleClaim(t.RoleClaim); err != nil {
		return nil, err
	}
	ti := &trustedIssuer{iss: t.Issuer, kind: kind, mapper: mapper}

	static := append([]verifyKey(nil), extra...)
	if t.PublicKey != "" {
		keys, err := parseStaticKeys(t.PublicKey)
		if err != nil {
			return nil, err
		}
		static = append(static, keys...)
	}
	if t.HS256Secret != "" {
		if len(t.HS256Secret) < 32 {
			return nil, errors.New("HS256 secret must be at least 32 bytes")
		}
		static = append(static, verifyKey{alg: "HS256", key: []byte(t.HS256Secret)})
	}
	if len(static) > 0 {
		ti.static = newKeySet(static)
	}
	if t.JWKSURL != "" {
		u, err := url.Parse(t.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("JWKS URL %q is not an http(s) URL", t.JWKSURL)
		}
		if client == nil {
			client = &http.Client{Timeout: jwksFetchTimeout}
		}
		ti.jwks = &jwksSource{url: t.JWKSURL, client: client, now: now}
	}
	if ti.static == nil && ti.jwks == nil {
		return nil, fmt.Errorf("issuer %q has no key source: set a JWKS URL, a public key or an HS256 secret", t.Issuer)
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(supportedAlgs),
		jwt.WithIssuer(t.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if kind == KindCognito {
		ti.audiences = auds // checked in checkClaims: access tokens have client_id, not aud
	} else {
		opts = append(opts, jwt.WithAudience(auds...))
	}
	ti.parser = jwt.NewParser(opts...)
	return ti, nil
}

// checkClaims applies the kind's rules to verified claims; errors wrap ErrInvalidToken.
func (ti *trustedIssuer) checkClaims(claims jwt.MapClaims) error {
	if ti.kind != KindCognito {
		return nil
	}
	use, _ := claims["token_use"].(string)
	switch use {
	case "access":
		cid, _ := claims["client_id"].(string)
		if !slices.Contains(ti.audiences, cid) {
			return fmt.Errorf("%w: Cognito access token for app client %q, not an accepted one", ErrInvalidToken, cid)
		}
	case "id":
		aud, err := claims.GetAudience()
		if err != nil || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(ti.audiences, a) }) {
			return fmt.Errorf("%w: Cognito id token for audience %v, not an accepted app client", ErrInvalidToken, aud)
		}
	default:
		return fmt.Errorf("%w: Cognito token_use %q, want access or id", ErrInvalidToken, use)
	}
	return nil
}

// keyFor selects the key for a parsed but unverified token: by kid among the static keys, then the JWKS
// (refetched, rate-limited, when the kid is unknown), then the single kid-less key pinned to the token's alg;
// without a kid, the single key pinned to the token's alg, static keys first. A key whose pinned alg differs
// from the token's is refused.
func (ti *trustedIssuer) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid := ""
	if raw, ok := t.Header["kid"]; ok {
		s, isString := raw.(string)
		if !isString {
			return nil, errors.New("kid header is not a string")
		}
		kid = s
	}

	k, ok, err := ti.static.find(kid, alg)
	if err != nil || ok {
		return k.key, err
	}

	var unavailable error // set when no JWKS key set could be loaded at all
	reason := "no key"
	// A JWKS never holds HMAC keys (parseJWKS refuses kty oct), so HS256 tokens never cause a fetch.
	if ti.jwks != nil && alg != "HS256" {
		set, err := ti.jwks.current(ctx)
		if err != nil {
			unavailable = err
		}
		if k, ok, err := set.find(kid, alg); err != nil || ok {
			return k.key, err
		}
		if kid != "" && set != nil {
			refreshed, fetched, err := ti.jwks.refresh(ctx)
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
		if k, ok, err := ti.static.findKidless(alg); err != nil || ok {
			return k.key, err
		}
	}
	if unavailable != nil {
		return nil, fmt.Errorf("%w: kid %q alg %s: %w", ErrKeysUnavailable, kid, alg, unavailable)
	}
	return nil, fmt.Errorf("%s for kid %q alg %s", reason, kid, alg)
}

// peekIssuer reads the iss claim of a token without verifying anything, to choose whose keys verify it.
func peekIssuer(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("payload is not base64url")
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
	}
	if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&claims); err != nil {
		return "", errors.New("payload is not a JSON object")
	}
	var iss string
	if claims.Iss == nil || json.Unmarshal(claims.Iss, &iss) != nil || iss == "" {
		return "", errors.New("iss claim missing or not a string")
	}
	return iss, nil
}
