package catalog

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/bruteforce"
	"github.com/rocker-app/corral/shared/csrf"
	"github.com/rocker-app/corral/shared/identity"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/password"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Auth routes are sensitive: their limits fail closed (503) when Redis is down, like the brute-force
// guard behind them. Anonymous routes count per client IP, the signed-in ones per user.
func authIPPolicy(name string, rate, burst int) ratelimit.Policy {
	return ratelimit.Policy{Name: "auth." + name, Rate: rate, Period: time.Minute, Burst: burst, Scope: ratelimit.ScopeIP, Sensitive: true}
}

func authUserPolicy(name string, rate, burst int) ratelimit.Policy {
	return ratelimit.Policy{Name: "auth." + name, Rate: rate, Period: time.Minute, Burst: burst, Scope: ratelimit.ScopeUser, Sensitive: true}
}

// AuthSignup serves POST /auth/signup and POST /auth/verify-email.
func AuthSignup(d *platform.Deps) []platform.Route {
	s := identityService(d)
	return []platform.Route{
		{Pattern: "POST /auth/signup", Handler: identity.SignupHandler(s), Public: true, Policy: authIPPolicy("signup", 10, 10)},
		{Pattern: "POST /auth/verify-email", Handler: identity.VerifyEmailHandler(s), Public: true, Policy: authIPPolicy("verify", 20, 10)},
	}
}

// AuthToken serves the token grants (POST /auth/token), the CSRF token of cookie mode (GET /auth/csrf)
// and tenant switching (POST /auth/switch-tenant). Cookie-authenticated writes pass the CSRF check.
func AuthToken(d *platform.Deps) []platform.Route {
	s := identityService(d)
	tokens := csrfTokens(d)
	guard := csrfGuard(d, tokens)
	return []platform.Route{
		{Pattern: "POST /auth/token", Handler: guard(identity.TokenHandler(s)), Public: true, Policy: authIPPolicy("token", 60, 30)},
		{Pattern: "GET /auth/csrf", Handler: csrf.Handler(tokens, csrf.HandlerOptions{}), Public: true, Policy: authIPPolicy("csrf", 60, 30)},
		{Pattern: "POST /auth/switch-tenant", Handler: guard(identity.SwitchTenantHandler(s)), Policy: authUserPolicy("switch", 20, 10)},
	}
}

// AuthLogout serves POST /auth/logout.
func AuthLogout(d *platform.Deps) []platform.Route {
	s := identityService(d)
	guard := csrfGuard(d, csrfTokens(d))
	return []platform.Route{
		{Pattern: "POST /auth/logout", Handler: guard(identity.LogoutHandler(s)), Public: true, Policy: authIPPolicy("logout", 30, 20)},
	}
}

// AuthMFA serves the caller's TOTP factor; removing it and renewing recovery codes need aal2.
func AuthMFA(d *platform.Deps) []platform.Route {
	s := identityService(d)
	return []platform.Route{
		{Pattern: "GET /auth/mfa", Handler: identity.MFAStatusHandler(s), Policy: authUserPolicy("mfa.read", 60, 20)},
		{Pattern: "POST /auth/mfa/totp", Handler: identity.EnrolTOTPHandler(s), Policy: authUserPolicy("mfa.write", 10, 5)},
		{Pattern: "POST /auth/mfa/totp/verify", Handler: identity.ConfirmTOTPHandler(s), Policy: authUserPolicy("mfa.verify", 10, 10)},
		{Pattern: "DELETE /auth/mfa/totp", Handler: identity.RemoveTOTPHandler(s), Policy: authUserPolicy("mfa.write", 10, 5), AAL2: true},
		{Pattern: "POST /auth/mfa/recovery-codes", Handler: identity.RenewRecoveryCodesHandler(s), Policy: authUserPolicy("mfa.write", 10, 5), AAL2: true},
	}
}

// identityService builds the identity service from the shared clients. A function that serves auth
// routes needs signing keys (JWT_SIGNING_KEYS) and the PII keys; without them it cannot start.
func identityService(d *platform.Deps) *identity.Service {
	if d.Issuer == nil {
		panic("catalog: the auth functions need JWT_SIGNING_KEYS (the keys access tokens are signed with)")
	}
	pw := password.DefaultParams
	if d.Config.PasswordMemoryKiB > 0 {
		pw.Memory = uint32(d.Config.PasswordMemoryKiB)
	}
	hasher, err := password.NewHasher(pw)
	if err != nil {
		panic(fmt.Sprintf("catalog: PASSWORD_ARGON2_MEMORY_KIB: %v", err))
	}
	guard, err := bruteforce.New(d.Redis, bruteforce.Options{KeyPrefix: d.Limiter.KeyPrefix() + "bf:"}, d.Audit)
	if err != nil {
		panic(fmt.Sprintf("catalog: brute-force guard: %v", err))
	}
	s, err := identity.New(identity.Deps{
		Store:     postgres.NewIdentityStore(d.DB),
		Passwords: passwords{hasher},
		Sealer:    d.RequireSealer(),
		Index:     d.BlindIndex,
		Tokens:    issuer{d.Issuer},
		Guard:     guardAdapter{guard},
		Audit:     d.Audit,
	}, identity.Options{RevealVerificationToken: d.Config.DevMode})
	if err != nil {
		panic(fmt.Sprintf("catalog: identity service: %v", err))
	}
	return s
}

// csrfTokens signs CSRF tokens with a key derived from CURSOR_SECRET (HMAC with a purpose label), so
// the two uses never share a key.
func csrfTokens(d *platform.Deps) *csrf.Tokens {
	m := hmac.New(sha256.New, d.Config.CursorSecret)
	m.Write([]byte("corral csrf v1"))
	t, err := csrf.New(m.Sum(nil))
	if err != nil {
		panic(fmt.Sprintf("catalog: CSRF tokens: %v", err))
	}
	return t
}

// csrfGuard checks cookie-authenticated writes against the CORS origins.
func csrfGuard(d *platform.Deps, t *csrf.Tokens) func(http.Handler) http.Handler {
	return middleware.CSRF(middleware.CSRFOptions{CookieName: identity.RefreshCookie, AllowedOrigins: d.Config.CORSAllowedOrigins,
		Tokens: t, Audit: d.Audit})
}

// passwords adapts shared/password to identity.Passwords.
type passwords struct{ h *password.Hasher }

func (p passwords) Hash(pw string) (string, error)                     { return p.h.Hash(pw) }
func (p passwords) Verify(pw, enc string) (ok, rehash bool, err error) { return p.h.Verify(pw, enc) }
func (p passwords) Waste(pw string)                                    { p.h.VerifyDummy(pw) }
func (p passwords) Check(pw string) error                              { return password.CheckPolicy(pw) }

// issuer adapts auth.Issuer to identity.Tokens.
type issuer struct{ i *auth.Issuer }

func (i issuer) Issue(ctx context.Context, c identity.Claims) (string, time.Time, error) {
	return i.i.Issue(ctx, auth.AccessClaims{Subject: c.Subject, TenantID: c.TenantID, Role: c.Role, Roles: c.Roles,
		AAL: c.AAL, AMR: c.AMR, SessionID: c.SessionID})
}

// guardAdapter adapts bruteforce.Guard to identity.Guard.
type guardAdapter struct{ g *bruteforce.Guard }

func verdict(d bruteforce.Decision) identity.Verdict {
	return identity.Verdict{Allowed: d.Allowed, RetryAfter: d.RetryAfter, Reason: d.Reason}
}

func (a guardAdapter) Check(ctx context.Context, account, ip string) (identity.Verdict, error) {
	d, err := a.g.Check(ctx, account, ip)
	return verdict(d), err
}

func (a guardAdapter) Failure(ctx context.Context, account, ip string) (identity.Verdict, error) {
	d, err := a.g.Failure(ctx, account, ip)
	return verdict(d), err
}

func (a guardAdapter) Success(ctx context.Context, account, ip string) error {
	return a.g.Success(ctx, account, ip)
}
