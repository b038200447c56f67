// Package identity is who people are and how they prove it: signup (a new tenant, or an invite into
// one), password, refresh-token and MFA grants that issue short-lived access tokens, sessions whose
// refresh tokens rotate on every use (a reused token revokes its session), logout, tenant switching,
// TOTP enrolment with recovery codes, and email verification. Secrets never rest in clear: passwords are
// argon2id hashes, tokens and codes SHA-256 digests, email and TOTP secrets envelope ciphertext, with
// email found through a keyed blind index.
package identity

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/rocker-app/corral/shared/audit"
)

// Passwords hashes and verifies passwords (shared/password).
type Passwords interface {
	// Hash returns the encoded hash of pw.
	Hash(pw string) (string, error)
	// Verify reports whether pw matches encoded, and whether the hash should be redone with current
	// parameters.
	Verify(pw, encoded string) (ok, rehash bool, err error)
	// Waste spends the time a Verify would, for accounts that do not exist.
	Waste(pw string)
	// Check returns a client-safe error when pw breaks the password policy.
	Check(pw string) error
}

// Sealer encrypts values at rest, binding each ciphertext to aad (shared/seal).
type Sealer interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
}

// EmailIndex is the keyed blind index emails are found by (shared/seal).
type EmailIndex interface {
	// Index is the value stored for email under the current key.
	Index(email string) []byte
	// Candidates are the values email may be stored under, one per live key.
	Candidates(email string) [][]byte
}

// Claims are what an access token says.
type Claims struct {
	Subject   string
	TenantID  string
	Role      string
	Roles     []string // extra roles, e.g. platform_admin
	AAL       string
	AMR       []string
	SessionID string
}

// Tokens issues signed access tokens (shared/auth's Issuer).
type Tokens interface {
	Issue(ctx context.Context, c Claims) (token string, expiresAt time.Time, err error)
}

// Verdict is the brute-force guard's answer.
type Verdict struct {
	Allowed    bool
	RetryAfter time.Duration
	Reason     string
}

// Guard counts failures per account and per client IP (shared/bruteforce). Its errors mean it cannot
// decide (Redis unreachable): the auth routes then fail closed.
type Guard interface {
	Check(ctx context.Context, account, ip string) (Verdict, error)
	Failure(ctx context.Context, account, ip string) (Verdict, error)
	Success(ctx context.Context, account, ip string) error
}

// Recorder takes audit events (shared/audit's Writer).
type Recorder interface {
	Record(e audit.Event)
}

// Audit event kinds of the identity service.
const (
	KindSignup          = "auth.signup"
	KindSignupDuplicate = "auth.signup_duplicate"
	KindLogin           = "auth.login"
	KindLoginFailed     = "auth.login_failed"
	KindLocked          = "auth.locked"
	KindRefreshReused   = "auth.refresh_reused"
	KindLogout          = "auth.logout"
	KindTenantSwitch    = "auth.tenant_switched"
	KindMFAEnrolled     = "auth.mfa_enrolled"
	KindMFARemoved      = "auth.mfa_removed"
	KindMFAFailed       = "auth.mfa_failed"
	KindRecoveryUsed    = "auth.recovery_code_used"
	KindRecoveryRenewed = "auth.recovery_codes_renewed"
	KindEmailVerified   = "auth.email_verified"
)

// Options tune the service; zero values take the documented defaults.
type Options struct {
	// SessionTTL is a session's absolute lifetime: refreshing never extends it. Default 30 days.
	SessionTTL time.Duration
	// RefreshTTL is one refresh token's lifetime (capped by the session's). Default 14 days.
	RefreshTTL time.Duration
	// ChallengeTTL is how long the MFA step of a login may take. Default 5 minutes.
	ChallengeTTL time.Duration
	// VerificationTTL is an email verification token's lifetime. Default 48 hours.
	VerificationTTL time.Duration
	// TOTPIssuer names the app in authenticator apps. Default "Rocker".
	TOTPIssuer string
	// RevealVerificationToken returns the email verification token in the signup answer (local
	// development only: in the cloud it is delivered by email).
	RevealVerificationToken bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 30 * 24 * time.Hour
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 14 * 24 * time.Hour
	}
	if o.ChallengeTTL <= 0 {
		o.ChallengeTTL = 5 * time.Minute
	}
	if o.VerificationTTL <= 0 {
		o.VerificationTTL = 48 * time.Hour
	}
	if o.TOTPIssuer == "" {
		o.TOTPIssuer = "Rocker"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Service is the identity service. Safe for concurrent use.
type Service struct {
	store  Store
	pw     Passwords
	seal   Sealer
	index  EmailIndex
	tokens Tokens
	guard  Guard
	audit  Recorder
	opts   Options
}

// Deps are the Service's collaborators; all are required.
type Deps struct {
	Store     Store
	Passwords Passwords
	Sealer    Sealer
	Index     EmailIndex
	Tokens    Tokens
	Guard     Guard
	Audit     Recorder
}

// New returns the service. It fails when a collaborator is missing.
func New(d Deps, o Options) (*Service, error) {
	if d.Store == nil || d.Passwords == nil || d.Sealer == nil || d.Index == nil || d.Tokens == nil || d.Guard == nil || d.Audit == nil {
		return nil, errors.New("identity: every collaborator is required (store, passwords, sealer, index, tokens, guard, audit)")
	}
	return &Service{store: d.Store, pw: d.Passwords, seal: d.Sealer, index: d.Index, tokens: d.Tokens,
		guard: d.Guard, audit: d.Audit, opts: o.withDefaults()}, nil
}

// Client is what the service knows of the caller's connection.
type Client struct {
	IP        string
	UserAgent string
	RequestID string
	Route     string
}

func (s *Service) record(c Client, tenantID, userID, kind string, detail map[string]any) {
	s.audit.Record(audit.Event{TenantID: tenantID, UserID: userID, Kind: kind, IP: c.IP, Route: c.Route,
		RequestID: c.RequestID, Detail: detail, At: s.opts.Now()})
}

// accountKey is the brute-force guard's key for an email: the blind index, never the address.
func (s *Service) accountKey(email string) string {
	return "email:" + hex.EncodeToString(s.index.Index(normalizeEmail(email)))
}
