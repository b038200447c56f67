package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// TokenVerifier turns a bearer token, or the claims an API Gateway JWT authorizer already verified, into a
// principal. *auth.Verifier implements it; errors wrap auth.ErrInvalidToken or auth.ErrNoTenant.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
	FromGatewayClaims(claims map[string]string) (auth.Principal, error)
}

// AuditRecorder queues an audit event without blocking; *audit.Writer implements it.
type AuditRecorder interface {
	Record(audit.Event)
}

// AuthOptions configure Authenticate.
type AuthOptions struct {
	// TrustGateway takes the claims of an API Gateway JWT authorizer when the request came through one.
	TrustGateway bool
	// Audit receives an event per refused token (not for a missing one).
	Audit AuditRecorder
	// Failures, when set, counts refused requests per client IP against FailurePolicy: past it, the
	// answer is 429 with Retry-After, so a client cannot probe tokens without limit. Requests that never
	// authenticate are otherwise never rate-limited, since the route's own policy runs after authentication.
	Failures      *ratelimit.Limiter
	FailurePolicy ratelimit.Policy
}

// Authenticate requires a caller: claims from API Gateway's JWT authorizer when o.TrustGateway is set and
// the request came through one, else an `Authorization: Bearer` token. No or a bad token is 401
// problem+json with WWW-Authenticate; a valid token without a tenant is 403. The principal goes into the
// context (auth.FromContext) and the request logger gains tenant and user.
func Authenticate(v TokenVerifier, o AuthOptions) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := principalFor(r, v, o.TrustGateway)
			if err != nil {
				if o.Failures != nil && !allowFailure(w, r, o) {
					return
				}
				refuse(w, r, err, o.Audit)
				return
			}
			ctx := auth.WithPrincipal(r.Context(), p)
			if st := stateFrom(ctx); st != nil {
				st.principal, st.authenticated = p, true
				st.log.Add(slog.String("tenant", p.TenantID), slog.String("user", p.UserID))
			} else {
				l := logging.FromContext(ctx).With(slog.String("tenant", p.TenantID), slog.String("user", p.UserID))
				ctx = logging.WithLogger(ctx, l)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

var errNoCredentials = errors.New("no bearer token")

// allowFailure counts a refused request against the client IP's budget. It answers 429 itself and
// returns false when the budget is spent; a limiter error fails open to the ordinary 401/403.
func allowFailure(w http.ResponseWriter, r *http.Request, o AuthOptions) bool {
	d, err := o.Failures.Allow(r.Context(), o.FailurePolicy, "", ClientIP(r))
	if err != nil {
		return true
	}
	ratelimit.SetHeaders(w.Header(), d)
	if d.Allowed {
		return true
	}
	if st := stateFrom(r.Context()); st != nil {
		st.rateLimited = true
	}
	record(o.Audit, r, auth.Principal{}, audit.KindRateLimited, o.FailurePolicy.Name)
	httpapi.WriteError(w, r, &httpapi.Error{Code: httpapi.CodeRateLimited, Message: "too many failed authentications; slow down", RetryAfter: d.RetryAfter})
	return false
}

func principalFor(r *http.Request, v TokenVerifier, trustGateway bool) (auth.Principal, error) {
	if trustGateway {
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil && gw.Authorizer.JWT != nil {
			return v.FromGatewayClaims(gw.Authorizer.JWT.Claims)
		}
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Principal{}, errNoCredentials
	}
	return v.Verify(r.Context(), strings.TrimSpace(token))
}

func refuse(w http.ResponseWriter, r *http.Request, err error, rec AuditRecorder) {
	var e *httpapi.Error
	switch {
	case errors.Is(err, auth.ErrNoTenant):
		e = &httpapi.Error{Code: httpapi.CodeForbidden, Message: "the token carries no tenant; sign in to an organisation", Err: err}
	case errors.Is(err, auth.ErrKeysUnavailable):
		e = &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "token keys are unavailable; retry later", Err: err}
	case errors.Is(err, errNoCredentials):
		w.Header().Set("WWW-Authenticate", `Bearer`)
		e = &httpapi.Error{Code: httpapi.CodeUnauthorized, Message: "a bearer token is required", Err: err}
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		e = &httpapi.Error{Code: httpapi.CodeUnauthorized, Message: "the bearer token is not valid", Err: err}
	}
	if !errors.Is(err, errNoCredentials) {
		logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "authentication refused", slog.Any("error", err))
		if rec != nil {
			rec.Record(audit.Event{Kind: audit.KindAuthFailed, IP: ClientIP(r), Route: r.Method + " " + r.URL.Path,
				RequestID: httpapi.RequestID(r.Context()), Detail: map[string]any{"reason": err.Error()}})
		}
	}
	httpapi.WriteError(w, r, e)
}
