package identity

import (
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
)

// RefreshCookie holds the refresh token in cookie mode: HttpOnly, Secure, SameSite=Strict, host-only
// (the __Host- prefix). Its presence makes a request cookie-authenticated, so the CSRF check applies.
const RefreshCookie = "__Host-corral_refresh"

// MaxBodyBytes bounds an auth request body.
const MaxBodyBytes = 8 << 10

func client(r *http.Request) Client {
	return Client{IP: middleware.ClientIP(r), UserAgent: r.UserAgent(), RequestID: httpapi.RequestID(r.Context()),
		Route: r.Method + " " + r.URL.Path}
}

// decodeOptional decodes a body that may be left out: no body is the zero request.
func decodeOptional[T any](r *http.Request) (T, error) {
	var zero T
	if r.ContentLength == 0 {
		return zero, nil
	}
	return httpapi.Decode[T](r, MaxBodyBytes)
}

// refreshToken is the refresh token of the body, else of the refresh cookie (cookie mode).
func refreshToken(r *http.Request, fromBody string) string {
	if fromBody != "" {
		return fromBody
	}
	if ck, err := r.Cookie(RefreshCookie); err == nil {
		return ck.Value
	}
	return ""
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// SignupHandler serves POST /auth/signup: 202 with the same body whether or not the email was new.
func SignupHandler(s *Service) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpapi.Decode[SignupRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		res, err := s.Signup(r.Context(), req, client(r))
		if err != nil {
			return err
		}
		noStore(w)
		httpapi.WriteJSON(w, r, http.StatusAccepted, res)
		return nil
	})
}

// VerifyEmailHandler serves POST /auth/verify-email {"token": "..."}: 204.
func VerifyEmailHandler(s *Service) http.Handler {
	type request struct {
		Token string `json:"token"`
	}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpapi.Decode[request](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		if err := s.VerifyEmail(r.Context(), req.Token, client(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// TokenRequest is the body of POST /auth/token. grant_type is password (email, password, optional
// tenant_id and use_cookie), refresh_token (refresh_token, or the refresh cookie) or mfa (mfa_token and
// code or recovery_code).
type TokenRequest struct {
	GrantType    string `json:"grant_type"`
	Email        string `json:"email"`
	Password     string `json:"password"`
	TenantID     string `json:"tenant_id"`
	UseCookie    bool   `json:"use_cookie"`
	RefreshToken string `json:"refresh_token"`
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
}

// TokenHandler serves POST /auth/token.
func TokenHandler(s *Service) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := httpapi.Decode[TokenRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		c := client(r)
		var ts *TokenSet
		switch req.GrantType {
		case "password":
			g, err := s.PasswordGrant(r.Context(), req.Email, req.Password, req.TenantID, req.UseCookie, c)
			if err != nil {
				return err
			}
			if g.MFA != nil {
				noStore(w)
				httpapi.WriteJSON(w, r, http.StatusOK, g.MFA)
				return nil
			}
			ts = g.Tokens
		case "refresh_token":
			if ts, err = s.RefreshGrant(r.Context(), refreshToken(r, req.RefreshToken), c); err != nil {
				return err
			}
		case "mfa":
			if ts, err = s.MFAGrant(r.Context(), req.MFAToken, req.Code, req.RecoveryCode, c); err != nil {
				return err
			}
		default:
			return httpapi.Invalid(httpapi.FieldProblem{Field: "grant_type", Reason: "must be password, refresh_token or mfa"})
		}
		writeTokens(w, r, ts)
		return nil
	})
}

func writeTokens(w http.ResponseWriter, r *http.Request, ts *TokenSet) {
	if ts.Cookie && ts.Refresh != "" {
		http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: ts.Refresh, Path: "/", Expires: ts.RefreshAt,
			MaxAge: int(time.Until(ts.RefreshAt) / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	}
	noStore(w)
	httpapi.WriteJSON(w, r, http.StatusOK, ts)
}

// SwitchTenantHandler serves POST /auth/switch-tenant {"tenant_id": "..."}: tokens for a new session in
// another organisation of the caller's.
func SwitchTenantHandler(s *Service) http.Handler {
	type request struct {
		TenantID string `json:"tenant_id"`
	}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		req, err := httpapi.Decode[request](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		ts, err := s.SwitchTenant(r.Context(), p, req.TenantID, client(r))
		if err != nil {
			return err
		}
		writeTokens(w, r, ts)
		return nil
	})
}

// LogoutHandler serves POST /auth/logout: revokes the session of the refresh token in the body
// ({"refresh_token": "..."}) or the refresh cookie, clears the cookie, 204.
func LogoutHandler(s *Service) http.Handler {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		req, err := decodeOptional[request](r)
		if err != nil {
			return err
		}
		if err := s.Logout(r.Context(), refreshToken(r, req.RefreshToken), client(r)); err != nil {
			return err
		}
		http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// MFAStatusHandler serves GET /auth/mfa.
func MFAStatusHandler(s *Service) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		st, err := s.MFAStatus(r.Context(), p)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, st)
		return nil
	})
}

// EnrolTOTPHandler serves POST /auth/mfa/totp: 201 with the secret and otpauth URI (shown once).
func EnrolTOTPHandler(s *Service) http.Handler {
	type request struct {
		Label string `json:"label"`
	}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		req, err := decodeOptional[request](r)
		if err != nil {
			return err
		}
		if len(req.Label) > 200 {
			return httpapi.Invalid(httpapi.FieldProblem{Field: "label", Reason: "must be at most 200 characters"})
		}
		e, err := s.EnrolTOTP(r.Context(), p, req.Label)
		if err != nil {
			return err
		}
		noStore(w)
		httpapi.WriteJSON(w, r, http.StatusCreated, e)
		return nil
	})
}

// ConfirmTOTPHandler serves POST /auth/mfa/totp/verify {"code": "123456"}: recovery codes and aal2 tokens.
func ConfirmTOTPHandler(s *Service) http.Handler {
	type request struct {
		Code string `json:"code"`
	}
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		req, err := httpapi.Decode[request](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		conf, err := s.ConfirmTOTP(r.Context(), p, req.Code, client(r))
		if err != nil {
			return err
		}
		noStore(w)
		httpapi.WriteJSON(w, r, http.StatusOK, conf)
		return nil
	})
}

// RemoveTOTPHandler serves DELETE /auth/mfa/totp: 204.
func RemoveTOTPHandler(s *Service) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		if err := s.RemoveTOTP(r.Context(), p, client(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RenewRecoveryCodesHandler serves POST /auth/mfa/recovery-codes: ten new codes, the old ones void.
func RenewRecoveryCodesHandler(s *Service) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		codes, err := s.RenewRecoveryCodes(r.Context(), p, client(r))
		if err != nil {
			return err
		}
		noStore(w)
		httpapi.WriteJSON(w, r, http.StatusOK, map[string][]string{"recovery_codes": codes})
		return nil
	})
}
