package identity

import (
	"context"
	"errors"
	"time"
)

// Store errors. Adapters return them (possibly wrapped) so the service can answer without knowing SQL.
var (
	ErrNotFound       = errors.New("identity: not found")
	ErrEmailTaken     = errors.New("identity: email already registered")
	ErrSlugTaken      = errors.New("identity: tenant slug already taken")
	ErrInviteInvalid  = errors.New("identity: invite unknown, used, revoked, expired or for another email")
	ErrRefreshInvalid = errors.New("identity: refresh token unknown, expired or its session revoked")
	ErrRefreshReused  = errors.New("identity: refresh token reused; its session was revoked")
	ErrNoMembership   = errors.New("identity: user is not a member of the tenant")
	ErrChallenge      = errors.New("identity: challenge unknown, used or expired")
	ErrMFAEnrolled    = errors.New("identity: a confirmed MFA factor exists")
)

// Revocation reasons, as stored in sessions.revoked_reason.
const (
	RevokedLogout     = "logout"
	RevokedReuse      = "reuse"
	RevokedMembership = "membership"
	RevokedMFA        = "mfa"
)

// Challenge kinds.
const (
	ChallengeMFA               = "mfa"
	ChallengeEmailVerification = "email_verification"
)

// User is what a login needs to know about an account.
type User struct {
	ID            string
	DisplayName   string
	PasswordHash  string
	PlatformAdmin bool
	EmailVerified bool
	// MFA is true when the user has a confirmed TOTP factor: a password alone then gives no tokens.
	MFA bool
}

// Membership is one tenant a user belongs to, with the role held there.
type Membership struct {
	TenantID   string    `json:"tenant_id"`
	TenantName string    `json:"name"`
	TenantSlug string    `json:"slug"`
	Role       string    `json:"role"`
	JoinedAt   time.Time `json:"joined_at"`
}

// NewAccount is a user to create at signup. Email is stored only as ciphertext and blind index.
type NewAccount struct {
	UserID       string
	DisplayName  string
	EmailEnc     []byte
	EmailIndex   []byte
	PasswordHash string
}

// NewTenant is the organisation a signup creates, its creator becoming the owner.
type NewTenant struct {
	ID   string
	Name string
	Slug string
}

// NewSession describes a session to open, with its first refresh token (stored as a hash only).
type NewSession struct {
	ID          string
	TenantID    string
	UserID      string
	AAL         string
	AMR         []string
	Cookie      bool
	UserAgent   string
	IP          string
	ExpiresAt   time.Time
	RefreshHash []byte
	RefreshExp  time.Time
}

// Session is an open session as tokens are issued from it: the role is the membership's current one.
type Session struct {
	ID            string
	TenantID      string
	UserID        string
	Role          string
	AAL           string
	AMR           []string
	Cookie        bool
	PlatformAdmin bool
	ExpiresAt     time.Time
}

// Challenge is a short-lived single-use token: the MFA step of a login, or an email verification.
type Challenge struct {
	Kind      string
	Hash      []byte
	UserID    string
	Detail    ChallengeDetail
	ExpiresAt time.Time
}

// ChallengeDetail is what a challenge remembers of the request that created it.
type ChallengeDetail struct {
	TenantID  string `json:"tenant_id,omitempty"`
	Cookie    bool   `json:"cookie,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	IP        string `json:"ip,omitempty"`
}

// Factor is a user's TOTP factor.
type Factor struct {
	SecretEnc     []byte
	Confirmed     bool
	LastUsedStep  int64
	RecoveryCodes int // unused recovery codes left
}

// Store persists identities. Every method is one transaction: it commits entirely or not at all.
type Store interface {
	// SignupTenant creates the account, its credentials, the tenant with the account as owner, and the
	// email verification challenge. ErrEmailTaken, ErrSlugTaken.
	SignupTenant(ctx context.Context, a NewAccount, t NewTenant, verify Challenge) error
	// SignupInvite creates the account and its credentials and accepts the invite whose code hashes to
	// inviteHash (a member with the invite's role). ErrEmailTaken, ErrInviteInvalid.
	SignupInvite(ctx context.Context, a NewAccount, inviteHash []byte, verify Challenge) (Membership, error)
	// UserByEmail finds the account whose blind index is one of candidates. ErrNotFound.
	UserByEmail(ctx context.Context, candidates [][]byte) (User, error)
	// UserByID returns the account. ErrNotFound.
	UserByID(ctx context.Context, userID string) (User, error)
	// SetPasswordHash replaces the stored hash (a rehash with stronger parameters).
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// Memberships lists the user's tenants, oldest membership first.
	Memberships(ctx context.Context, userID string) ([]Membership, error)
	// OpenSession opens a session for a member of the tenant. ErrNoMembership.
	OpenSession(ctx context.Context, s NewSession) (Session, error)
	// Refresh exchanges a refresh token for a new one in the same session. A token already exchanged
	// revokes the session (ErrRefreshReused); an unknown or expired token, a revoked or expired session,
	// or a membership that is gone give ErrRefreshInvalid.
	Refresh(ctx context.Context, oldHash, newHash []byte, now time.Time, ttl time.Duration) (Session, error)
	// SessionByRefresh returns the live session of a refresh token without exchanging it. ErrRefreshInvalid.
	SessionByRefresh(ctx context.Context, hash []byte, now time.Time) (Session, error)
	// Session returns a live session of the user in the tenant. ErrRefreshInvalid when revoked or expired.
	Session(ctx context.Context, tenantID, userID, sessionID string, now time.Time) (Session, error)
	// Revoke revokes the session (idempotent).
	Revoke(ctx context.Context, sessionID, reason string) error
	// RaiseSession records that the session passed MFA (aal2, amr gains method).
	RaiseSession(ctx context.Context, tenantID, userID, sessionID, method string) (Session, error)
	// CreateChallenge stores a challenge.
	CreateChallenge(ctx context.Context, c Challenge) error
	// Challenge returns an unused, unexpired challenge of that kind. ErrChallenge.
	Challenge(ctx context.Context, kind string, hash []byte, now time.Time) (Challenge, error)
	// ConsumeChallenge marks it used; only one caller succeeds. ErrChallenge.
	ConsumeChallenge(ctx context.Context, kind string, hash []byte, now time.Time) (Challenge, error)
	// VerifyEmail consumes an email verification challenge and marks the email verified. ErrChallenge.
	VerifyEmail(ctx context.Context, hash []byte, now time.Time) error
	// Factor returns the user's TOTP factor. ErrNotFound.
	Factor(ctx context.Context, userID string) (Factor, error)
	// EnrolFactor stores an unconfirmed factor, replacing an unconfirmed one. ErrMFAEnrolled; ErrNotFound
	// when the user does not exist.
	EnrolFactor(ctx context.Context, userID string, secretEnc []byte) error
	// ConfirmFactor confirms the factor at TOTP step and stores the recovery codes' hashes. ErrNotFound
	// when there is no unconfirmed factor.
	ConfirmFactor(ctx context.Context, userID string, step int64, recovery [][]byte) error
	// UseStep records a TOTP step as used; false when that step or a later one was used already.
	UseStep(ctx context.Context, userID string, step int64) (bool, error)
	// UseRecoveryCode marks the code used; false when unknown or used.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error)
	// ReplaceRecoveryCodes replaces every recovery code.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// RemoveFactor deletes the factor and the recovery codes. ErrNotFound.
	RemoveFactor(ctx context.Context, userID string) error
}
