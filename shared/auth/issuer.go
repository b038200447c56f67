package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Access-token lifetimes.
const (
	// DefaultAccessTTL is the lifetime of an access token when JWT_ACCESS_TTL is not set.
	DefaultAccessTTL = 15 * time.Minute
	// MaxAccessTTL bounds JWT_ACCESS_TTL: an access token cannot be revoked before it expires, so it must
	// stay short; sessions last through refresh tokens instead.
	MaxAccessTTL = 24 * time.Hour
)

// Assurance levels (NIST SP 800-63B): aal1 is one factor, aal2 two (password and a TOTP code, for example).
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// AccessClaims are what an access token says about its holder. Subject and TenantID are UUIDs.
type AccessClaims struct {
	Subject  string // sub: the user's id
	TenantID string // tenant_id: the tenant the session acts in
	Role     string // role: the membership role in the tenant (owner, admin, moderator, member); optional
	// Roles are further roles, such as platform_admin; written as the roles claim only when some differ
	// from Role. A Verifier returns Role first, then these, without duplicates.
	Roles     []string
	AAL       string   // aal: AAL1 (the default when empty) or AAL2
	AMR       []string // amr: authentication methods, RFC 8176 values such as "pwd", "otp", "mfa"; optional
	SessionID string   // session_id: the session the token belongs to; optional
}

// Issuer signs access tokens with the active key of a KeyRing: ES256, kid in the header, claims sub,
// tenant_id, role, roles (only with extra roles), aal, amr (when given), session_id (when given), iss, aud,
// iat, exp (iat + the TTL) and a random jti. It is immutable and safe for concurrent use.
type Issuer struct {
	ring     *KeyRing
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an Issuer stamping iss and aud (JWT_ISSUER and JWT_AUDIENCE: a Verifier of the same
// configuration accepts its tokens) with tokens living ttl (JWT_ACCESS_TTL; 0 means DefaultAccessTTL). It
// fails when ring is nil, issuer or audience is empty, or ttl is negative or above MaxAccessTTL.
func NewIssuer(ring *KeyRing, issuer, audience string, ttl time.Duration) (*Issuer, error) {
	return newIssuer(ring, issuer, audience, ttl, time.Now)
}

func newIssuer(ring *KeyRing, issuer, audience string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	switch {
	case ring == nil:
		return nil, errors.New("auth: issuer needs a key ring")
	case strings.TrimSpace(issuer) == "" || strings.TrimSpace(audience) == "":
		return nil, errors.New("auth: issuer needs an issuer (iss) and an audience (aud)")
	case ttl < 0 || ttl > MaxAccessTTL:
		return nil, fmt.Errorf("auth: access token ttl %s is outside (0, %s]", ttl, MaxAccessTTL)
	}
	if ttl == 0 {
		ttl = DefaultAccessTTL
	}
	return &Issuer{ring: ring, issuer: issuer, audience: audience, ttl: ttl, now: now}, nil
}

// TTL is how long the tokens it issues live.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// KeyRing is the ring it signs with.
func (i *Issuer) KeyRing() *KeyRing { return i.ring }

// Issue signs an access token for c and returns it with its expiry. It fails, before signing, when Subject
// or TenantID is not a UUID, AAL is neither AAL1, AAL2 nor empty, or a role or AMR value is empty; and when
// signing fails (the system's randomness). ctx is accepted for signers that call out (a KMS key).
func (i *Issuer) Issue(_ context.Context, c AccessClaims) (token string, expiresAt time.Time, err error) {
	sub, err := uuid.Parse(c.Subject)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: subject %q is not a UUID", c.Subject)
	}
	tenant, err := uuid.Parse(c.TenantID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: tenant %q is not a UUID", c.TenantID)
	}
	aal := c.AAL
	switch aal {
	case "":
		aal = AAL1
	case AAL1, AAL2:
	default:
		return "", time.Time{}, fmt.Errorf("auth: issue: aal %q is neither %s nor %s", c.AAL, AAL1, AAL2)
	}
	var extra []string
	for _, r := range c.Roles {
		if strings.TrimSpace(r) == "" {
			return "", time.Time{}, errors.New("auth: issue: empty role")
		}
		if r != c.Role && !slices.Contains(extra, r) {
			extra = append(extra, r)
		}
	}
	for _, m := range c.AMR {
		if strings.TrimSpace(m) == "" {
			return "", time.Time{}, errors.New("auth: issue: empty amr value")
		}
	}

	now := i.now().Truncate(time.Second) // NumericDate has whole seconds: report the expiry the token states
	exp := now.Add(i.ttl)
	claims := jwt.MapClaims{
		"iss":       i.issuer,
		"aud":       i.audience,
		"sub":       sub.String(),
		"tenant_id": tenant.String(),
		"aal":       aal,
		"iat":       now.Unix(),
		"exp":       exp.Unix(),
		"jti":       uuid.NewString(),
	}
	if c.Role != "" {
		claims["role"] = c.Role
	}
	if len(extra) > 0 {
		claims["roles"] = extra
	}
	if len(c.AMR) > 0 {
		claims["amr"] = c.AMR
	}
	if c.SessionID != "" {
		claims["session_id"] = c.SessionID
	}
	token, err = i.ring.sign(claims)
	if err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}
