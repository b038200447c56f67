package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/opaque"
	"github.com/rocker-app/corral/shared/totp"
)

// RecoveryCodeCount is how many single-use recovery codes a confirmed factor comes with.
const RecoveryCodeCount = 10

// MFAStatus is GET /auth/mfa.
type MFAStatus struct {
	Enrolled          bool   `json:"enrolled"` // a confirmed TOTP factor exists
	Pending           bool   `json:"pending"`  // an enrolment awaits its first code
	RecoveryCodesLeft int    `json:"recovery_codes_left"`
	AAL               string `json:"aal"` // of the calling token
}

// Enrolment is the answer to starting a TOTP enrolment: the secret, shown once, for the authenticator app.
type Enrolment struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

// Confirmation is the answer to confirming an enrolment: the recovery codes (shown once) and tokens at aal2.
type Confirmation struct {
	RecoveryCodes []string  `json:"recovery_codes"`
	Tokens        *TokenSet `json:"tokens"`
}

// MFAStatus reports the caller's factor.
func (s *Service) MFAStatus(ctx context.Context, p auth.Principal) (MFAStatus, error) {
	st := MFAStatus{AAL: p.AAL}
	f, err := s.store.Factor(ctx, p.UserID)
	if errors.Is(err, ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, httpapi.Internal(err)
	}
	st.Enrolled, st.Pending = f.Confirmed, !f.Confirmed
	if f.Confirmed {
		st.RecoveryCodesLeft = f.RecoveryCodes
	}
	return st, nil
}

// EnrolTOTP starts (or restarts) a TOTP enrolment. The secret is stored sealed and shown only here.
// A confirmed factor must be removed first (409).
func (s *Service) EnrolTOTP(ctx context.Context, p auth.Principal, accountLabel string) (Enrolment, error) {
	secret := totp.NewSecret()
	enc, err := s.seal.Seal(ctx, secret, totpAAD(p.UserID))
	if err != nil {
		return Enrolment{}, httpapi.Internal(err)
	}
	err = s.store.EnrolFactor(ctx, p.UserID, enc)
	if errors.Is(err, ErrMFAEnrolled) {
		return Enrolment{}, httpapi.Errorf(httpapi.CodeConflict, "a TOTP factor is already active; remove it first")
	}
	if errors.Is(err, ErrNotFound) { // a valid token whose account was deleted since
		return Enrolment{}, httpapi.Errorf(httpapi.CodeUnauthorized, "the account of this token no longer exists; sign in again")
	}
	if err != nil {
		return Enrolment{}, httpapi.Internal(err)
	}
	if accountLabel == "" {
		accountLabel = p.UserID
	}
	return Enrolment{Secret: totp.Encode(secret), OTPAuthURI: totp.URI(s.opts.TOTPIssuer, accountLabel, secret)}, nil
}

// ConfirmTOTP checks the first code from the authenticator app, activates the factor, returns ten
// recovery codes and raises the caller's session to aal2 with fresh tokens.
func (s *Service) ConfirmTOTP(ctx context.Context, p auth.Principal, code string, c Client) (Confirmation, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return Confirmation{}, httpapi.Invalid(httpapi.FieldProblem{Field: "code", Reason: "is required"})
	}
	f, err := s.store.Factor(ctx, p.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && f.Confirmed) {
		return Confirmation{}, httpapi.Errorf(httpapi.CodeConflict, "no TOTP enrolment is pending; start one with POST /auth/mfa/totp")
	}
	if err != nil {
		return Confirmation{}, httpapi.Internal(err)
	}
	account := "mfa:" + p.UserID
	if v, err := s.guard.Check(ctx, account, c.IP); err != nil {
		return Confirmation{}, guardError(err)
	} else if !v.Allowed {
		return Confirmation{}, lockedError(v)
	}
	secret, err := s.seal.Open(ctx, f.SecretEnc, totpAAD(p.UserID))
	if err != nil {
		return Confirmation{}, httpapi.Internal(err)
	}
	step, ok := totp.Validate(secret, code, s.opts.Now(), f.LastUsedStep)
	if !ok {
		if v, err := s.guard.Failure(ctx, account, c.IP); err != nil {
			return Confirmation{}, guardError(err)
		} else if !v.Allowed {
			return Confirmation{}, lockedError(v)
		}
		return Confirmation{}, httpapi.Invalid(httpapi.FieldProblem{Field: "code", Reason: "does not match; check the device's clock"})
	}
	codes, hashes := opaque.RecoveryCodes(RecoveryCodeCount)
	if err := s.store.ConfirmFactor(ctx, p.UserID, step, hashes); errors.Is(err, ErrNotFound) {
		return Confirmation{}, httpapi.Errorf(httpapi.CodeConflict, "no TOTP enrolment is pending")
	} else if err != nil {
		return Confirmation{}, httpapi.Internal(err)
	}
	_ = s.guard.Success(ctx, account, c.IP)
	s.record(c, p.TenantID, p.UserID, KindMFAEnrolled, nil)
	conf := Confirmation{RecoveryCodes: codes}
	if p.SessionID != "" {
		ss, err := s.store.RaiseSession(ctx, p.TenantID, p.UserID, p.SessionID, "otp")
		if err == nil {
			if conf.Tokens, err = s.issue(ctx, ss, "", ss.ExpiresAt); err != nil {
				return Confirmation{}, err
			}
		} else if !errors.Is(err, ErrRefreshInvalid) {
			return Confirmation{}, httpapi.Internal(err)
		}
	}
	return conf, nil
}

// RemoveTOTP deletes the caller's factor and recovery codes. The route requires aal2.
func (s *Service) RemoveTOTP(ctx context.Context, p auth.Principal, c Client) error {
	err := s.store.RemoveFactor(ctx, p.UserID)
	if errors.Is(err, ErrNotFound) {
		return httpapi.ErrNotFound
	}
	if err != nil {
		return httpapi.Internal(err)
	}
	s.record(c, p.TenantID, p.UserID, KindMFARemoved, nil)
	return nil
}

// RenewRecoveryCodes replaces every recovery code. The route requires aal2.
func (s *Service) RenewRecoveryCodes(ctx context.Context, p auth.Principal, c Client) ([]string, error) {
	f, err := s.store.Factor(ctx, p.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && !f.Confirmed) {
		return nil, httpapi.Errorf(httpapi.CodeConflict, "no active TOTP factor")
	}
	if err != nil {
		return nil, httpapi.Internal(err)
	}
	codes, hashes := opaque.RecoveryCodes(RecoveryCodeCount)
	if err := s.store.ReplaceRecoveryCodes(ctx, p.UserID, hashes); err != nil {
		return nil, httpapi.Internal(err)
	}
	s.record(c, p.TenantID, p.UserID, KindRecoveryRenewed, nil)
	return codes, nil
}
