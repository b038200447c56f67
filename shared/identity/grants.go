package identity

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/opaque"
	"github.com/rocker-app/corral/shared/totp"
)

// RolePlatformAdmin is the extra role of platform operators (users.platform_admin, set by an operator).
const RolePlatformAdmin = "platform_admin"

// TokenSet is a successful grant: an access token, and (except in cookie mode, where it travels in an
// HttpOnly cookie) the session's next refresh token.
type TokenSet struct {
	AccessToken  string       `json:"access_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int          `json:"expires_in"`
	RefreshToken string       `json:"refresh_token,omitempty"`
	SessionID    string       `json:"session_id"`
	TenantID     string       `json:"tenant_id"`
	Role         string       `json:"role"`
	AAL          string       `json:"aal"`
	Tenants      []Membership `json:"tenants,omitempty"`

	// Cookie is true when the refresh token must be set as a cookie instead of returned in the body.
	Cookie bool `json:"-"`
	// Refresh is the refresh token whatever the mode (for the cookie); RefreshToken is it in body mode.
	Refresh   string    `json:"-"`
	RefreshAt time.Time `json:"-"` // the refresh token's expiry, for the cookie
}

// Grant is the answer to a password grant: tokens, or an MFA step to complete with the mfa grant.
type Grant struct {
	Tokens *TokenSet
	MFA    *MFAStep
}

// MFAStep says a second factor is needed: send the code with grant_type=mfa and this token.
type MFAStep struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// errInvalidGrant is the one answer to every wrong email, password or refresh token: same status, same
// body, so nothing tells an unknown email from a wrong password.
var errInvalidGrant = &httpapi.Error{Code: httpapi.CodeUnauthorized, Message: "invalid credentials"}

func guardError(err error) error {
	return &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "sign-in is temporarily unavailable", Err: err}
}

func lockedError(v Verdict) error {
	return &httpapi.Error{Code: httpapi.CodeRateLimited, Message: "too many failed attempts; try again later", RetryAfter: v.RetryAfter}
}

// PasswordGrant signs in with email and password, into tenantID (or the user's first tenant when empty).
// Failures are counted per account and per client IP; past the guard's limits the answer is 429 with
// Retry-After whatever the password. A user with MFA gets an MFA step instead of tokens.
func (s *Service) PasswordGrant(ctx context.Context, email, password, tenantID string, cookie bool, c Client) (Grant, error) {
	email = normalizeEmail(email)
	if email == "" || password == "" || len(email) > 254 || len(password) > 1024 {
		return Grant{}, httpapi.Invalid(httpapi.FieldProblem{Field: "email", Reason: "email and password are required"})
	}
	if tenantID != "" {
		if _, err := uuid.Parse(tenantID); err != nil {
			return Grant{}, httpapi.Invalid(httpapi.FieldProblem{Field: "tenant_id", Reason: "must be a UUID"})
		}
	}
	account := s.accountKey(email)
	v, err := s.guard.Check(ctx, account, c.IP)
	if err != nil {
		return Grant{}, guardError(err)
	}
	if !v.Allowed {
		s.pw.Waste(password)
		return Grant{}, lockedError(v)
	}
	u, err := s.store.UserByEmail(ctx, s.index.Candidates(email))
	ok := false
	switch {
	case errors.Is(err, ErrNotFound):
		s.pw.Waste(password)
	case err != nil:
		return Grant{}, httpapi.Internal(err)
	default:
		var rehash bool
		if ok, rehash, err = s.pw.Verify(password, u.PasswordHash); err != nil {
			return Grant{}, httpapi.Internal(err)
		}
		if ok && rehash {
			if h, err := s.pw.Hash(password); err == nil {
				_ = s.store.SetPasswordHash(ctx, u.ID, h) // best effort: the old hash still works
			}
		}
	}
	if !ok {
		s.record(c, "", u.ID, KindLoginFailed, nil)
		v, err := s.guard.Failure(ctx, account, c.IP)
		if err != nil {
			return Grant{}, guardError(err)
		}
		if !v.Allowed {
			return Grant{}, lockedError(v)
		}
		return Grant{}, errInvalidGrant
	}
	if err := s.guard.Success(ctx, account, c.IP); err != nil {
		return Grant{}, guardError(err)
	}

	ms, err := s.store.Memberships(ctx, u.ID)
	if err != nil {
		return Grant{}, httpapi.Internal(err)
	}
	tenant, err := pickTenant(ms, tenantID)
	if err != nil {
		return Grant{}, err
	}
	if u.MFA {
		token, hash := opaque.New("cmf")
		ch := Challenge{Kind: ChallengeMFA, Hash: hash, UserID: u.ID, ExpiresAt: s.opts.Now().Add(s.opts.ChallengeTTL),
			Detail: ChallengeDetail{TenantID: tenant, Cookie: cookie, UserAgent: c.UserAgent, IP: c.IP}}
		if err := s.store.CreateChallenge(ctx, ch); err != nil {
			return Grant{}, httpapi.Internal(err)
		}
		return Grant{MFA: &MFAStep{MFARequired: true, MFAToken: token, ExpiresIn: int(s.opts.ChallengeTTL / time.Second)}}, nil
	}
	ts, err := s.open(ctx, u.ID, tenant, "aal1", []string{"pwd"}, cookie, c)
	if err != nil {
		return Grant{}, err
	}
	ts.Tenants = ms
	s.record(c, tenant, u.ID, KindLogin, map[string]any{"session_id": ts.SessionID, "aal": "aal1"})
	return Grant{Tokens: ts}, nil
}

// pickTenant returns want when the user is a member there, else the oldest membership when want is empty.
func pickTenant(ms []Membership, want string) (string, error) {
	if len(ms) == 0 {
		return "", httpapi.Errorf(httpapi.CodeForbidden, "the account belongs to no organisation")
	}
	if want == "" {
		return ms[0].TenantID, nil
	}
	if slices.ContainsFunc(ms, func(m Membership) bool { return m.TenantID == want }) {
		return want, nil
	}
	// Not a member: the same answer as a tenant that does not exist.
	return "", httpapi.Errorf(httpapi.CodeForbidden, "not a member of that organisation")
}

// open starts a session in the tenant and issues its first tokens.
func (s *Service) open(ctx context.Context, userID, tenantID, aal string, amr []string, cookie bool, c Client) (*TokenSet, error) {
	now := s.opts.Now()
	refresh, refreshHash := opaque.New("crt")
	n := NewSession{ID: uuid.NewString(), TenantID: tenantID, UserID: userID, AAL: aal, AMR: amr, Cookie: cookie,
		UserAgent: c.UserAgent, IP: c.IP, ExpiresAt: now.Add(s.opts.SessionTTL), RefreshHash: refreshHash}
	n.RefreshExp = now.Add(s.opts.RefreshTTL)
	if n.RefreshExp.After(n.ExpiresAt) {
		n.RefreshExp = n.ExpiresAt
	}
	ss, err := s.store.OpenSession(ctx, n)
	if errors.Is(err, ErrNoMembership) {
		return nil, httpapi.Errorf(httpapi.CodeForbidden, "not a member of that organisation")
	}
	if err != nil {
		return nil, httpapi.Internal(err)
	}
	return s.issue(ctx, ss, refresh, n.RefreshExp)
}

// issue signs an access token for the session and packs the token set.
func (s *Service) issue(ctx context.Context, ss Session, refresh string, refreshExp time.Time) (*TokenSet, error) {
	cl := Claims{Subject: ss.UserID, TenantID: ss.TenantID, Role: ss.Role, AAL: ss.AAL, AMR: ss.AMR, SessionID: ss.ID}
	if ss.PlatformAdmin {
		cl.Roles = []string{RolePlatformAdmin}
	}
	tok, exp, err := s.tokens.Issue(ctx, cl)
	if err != nil {
		return nil, httpapi.Internal(err)
	}
	ts := &TokenSet{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(exp.Sub(s.opts.Now()) / time.Second),
		SessionID: ss.ID, TenantID: ss.TenantID, Role: ss.Role, AAL: ss.AAL,
		Cookie: ss.Cookie, Refresh: refresh, RefreshAt: refreshExp}
	if !ss.Cookie {
		ts.RefreshToken = refresh
	}
	return ts, nil
}

// RefreshGrant exchanges a refresh token for new tokens. Presenting a token that was already exchanged
// revokes its whole session: whoever holds a copy (the thief or the user) is signed out of it.
func (s *Service) RefreshGrant(ctx context.Context, refresh string, c Client) (*TokenSet, error) {
	if refresh == "" || len(refresh) > 200 {
		return nil, errInvalidGrant
	}
	now := s.opts.Now()
	next, nextHash := opaque.New("crt")
	ss, err := s.store.Refresh(ctx, opaque.Hash(refresh), nextHash, now, s.opts.RefreshTTL)
	switch {
	case errors.Is(err, ErrRefreshReused):
		s.record(c, "", "", KindRefreshReused, nil)
		return nil, errInvalidGrant
	case errors.Is(err, ErrRefreshInvalid):
		return nil, errInvalidGrant
	case err != nil:
		return nil, httpapi.Internal(err)
	}
	exp := now.Add(s.opts.RefreshTTL)
	if exp.After(ss.ExpiresAt) {
		exp = ss.ExpiresAt
	}
	return s.issue(ctx, ss, next, exp)
}

// MFAGrant completes a login that needed a second factor: the mfa_token of the password grant with a
// TOTP code or one of the recovery codes. Wrong codes count against the account like wrong passwords.
func (s *Service) MFAGrant(ctx context.Context, mfaToken, code, recoveryCode string, c Client) (*TokenSet, error) {
	if mfaToken == "" || len(mfaToken) > 200 || (code == "") == (recoveryCode == "") {
		return nil, httpapi.Invalid(httpapi.FieldProblem{Field: "code", Reason: "mfa_token and exactly one of code or recovery_code are required"})
	}
	now := s.opts.Now()
	tokHash := opaque.Hash(mfaToken)
	ch, err := s.store.Challenge(ctx, ChallengeMFA, tokHash, now)
	if errors.Is(err, ErrChallenge) {
		return nil, errInvalidGrant
	}
	if err != nil {
		return nil, httpapi.Internal(err)
	}
	account := "mfa:" + ch.UserID
	v, err := s.guard.Check(ctx, account, c.IP)
	if err != nil {
		return nil, guardError(err)
	}
	if !v.Allowed {
		return nil, lockedError(v)
	}
	method, ok, err := s.checkSecondFactor(ctx, ch.UserID, code, recoveryCode, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.record(c, ch.Detail.TenantID, ch.UserID, KindMFAFailed, nil)
		if v, err := s.guard.Failure(ctx, account, c.IP); err != nil {
			return nil, guardError(err)
		} else if !v.Allowed {
			return nil, lockedError(v)
		}
		return nil, errInvalidGrant
	}
	if _, err := s.store.ConsumeChallenge(ctx, ChallengeMFA, tokHash, now); errors.Is(err, ErrChallenge) {
		return nil, errInvalidGrant // used concurrently
	} else if err != nil {
		return nil, httpapi.Internal(err)
	}
	_ = s.guard.Success(ctx, account, c.IP)
	ts, err := s.open(ctx, ch.UserID, ch.Detail.TenantID, "aal2", []string{"pwd", method}, ch.Detail.Cookie, c)
	if err != nil {
		return nil, err
	}
	s.record(c, ts.TenantID, ch.UserID, KindLogin, map[string]any{"session_id": ts.SessionID, "aal": "aal2", "method": method})
	return ts, nil
}

// checkSecondFactor verifies a TOTP code (each time step accepted once) or spends a recovery code. It
// returns the amr method ("otp" or "recovery").
func (s *Service) checkSecondFactor(ctx context.Context, userID, code, recoveryCode string, now time.Time) (string, bool, error) {
	f, err := s.store.Factor(ctx, userID)
	if errors.Is(err, ErrNotFound) || (err == nil && !f.Confirmed) {
		return "", false, nil
	}
	if err != nil {
		return "", false, httpapi.Internal(err)
	}
	if recoveryCode != "" {
		ok, err := s.store.UseRecoveryCode(ctx, userID, opaque.HashRecoveryCode(recoveryCode))
		if err != nil {
			return "", false, httpapi.Internal(err)
		}
		return "recovery", ok, nil
	}
	secret, err := s.seal.Open(ctx, f.SecretEnc, totpAAD(userID))
	if err != nil {
		return "", false, httpapi.Internal(err)
	}
	step, ok := totp.Validate(secret, strings.TrimSpace(code), now, f.LastUsedStep)
	if !ok {
		return "", false, nil
	}
	used, err := s.store.UseStep(ctx, userID, step)
	if err != nil {
		return "", false, httpapi.Internal(err)
	}
	return "otp", used, nil
}

// SwitchTenant opens a new session in another organisation the caller belongs to; the assurance level
// reached in the current session carries over (the person proved it minutes ago). The current session
// stays open.
func (s *Service) SwitchTenant(ctx context.Context, p auth.Principal, tenantID string, c Client) (*TokenSet, error) {
	if _, err := uuid.Parse(tenantID); err != nil {
		return nil, httpapi.Invalid(httpapi.FieldProblem{Field: "tenant_id", Reason: "must be a UUID"})
	}
	cur, err := s.currentSession(ctx, p)
	if err != nil {
		return nil, err
	}
	ts, err := s.open(ctx, p.UserID, tenantID, cur.AAL, cur.AMR, cur.Cookie, c)
	if err != nil {
		return nil, err
	}
	s.record(c, tenantID, p.UserID, KindTenantSwitch, map[string]any{"from": p.TenantID, "session_id": ts.SessionID})
	return ts, nil
}

// currentSession returns the live session the principal's token was issued from.
func (s *Service) currentSession(ctx context.Context, p auth.Principal) (Session, error) {
	if p.SessionID == "" {
		return Session{}, httpapi.Errorf(httpapi.CodeForbidden, "this token has no session; sign in with /auth/token")
	}
	ss, err := s.store.Session(ctx, p.TenantID, p.UserID, p.SessionID, s.opts.Now())
	if errors.Is(err, ErrRefreshInvalid) {
		return Session{}, httpapi.Errorf(httpapi.CodeUnauthorized, "the session has ended; sign in again")
	}
	if err != nil {
		return Session{}, httpapi.Internal(err)
	}
	return ss, nil
}

// Logout revokes the session of a refresh token. An unknown token is not an error: the session is over
// either way.
func (s *Service) Logout(ctx context.Context, refresh string, c Client) error {
	if refresh == "" || len(refresh) > 200 {
		return httpapi.Invalid(httpapi.FieldProblem{Field: "refresh_token", Reason: "is required (in the body or the refresh cookie)"})
	}
	ss, err := s.store.SessionByRefresh(ctx, opaque.Hash(refresh), s.opts.Now())
	if errors.Is(err, ErrRefreshInvalid) {
		return nil
	}
	if err != nil {
		return httpapi.Internal(err)
	}
	if err := s.store.Revoke(ctx, ss.ID, RevokedLogout); err != nil {
		return httpapi.Internal(err)
	}
	s.record(c, ss.TenantID, ss.UserID, KindLogout, map[string]any{"session_id": ss.ID})
	return nil
}

// LogoutSession revokes the session the principal's access token belongs to.
func (s *Service) LogoutSession(ctx context.Context, p auth.Principal, c Client) error {
	if p.SessionID == "" {
		return nil
	}
	if err := s.store.Revoke(ctx, p.SessionID, RevokedLogout); err != nil {
		return httpapi.Internal(err)
	}
	s.record(c, p.TenantID, p.UserID, KindLogout, map[string]any{"session_id": p.SessionID})
	return nil
}
