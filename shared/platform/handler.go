package platform

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// Idempotency says whether a route takes an Idempotency-Key.
type Idempotency int

// Idempotency modes.
const (
	IdempotencyNone     Idempotency = iota // GETs, and writes that are naturally idempotent
	IdempotencyOptional                    // honoured when the client sends a key
	IdempotencyRequired                    // 400 without a key
)

// authFailurePolicy limits requests refused by authentication, per client IP, on every authenticated route.
func authFailurePolicy() ratelimit.Policy {
	return ratelimit.Policy{Name: "auth.failures", Rate: 30, Period: time.Minute, Burst: 20, Scope: ratelimit.ScopeIP}
}

// Route is one entry of a function's route table. Pattern uses API Gateway's route key syntax, which is
// also net/http's pattern syntax for the routes we use: "GET /horses/{id}".
type Route struct {
	Pattern     string
	Handler     http.Handler
	Policy      ratelimit.Policy
	Public      bool // no authentication: rate-limited by client IP
	Idempotency Idempotency
	// Roles, when set, admits only callers holding one of them (middleware.RequireRole): 403 otherwise.
	// middleware.RolePlatformAdmin marks a control-room route.
	Roles []string
	// AAL2 admits only callers who signed in with a second factor (middleware.RequireAAL2): 403
	// "mfa-required" otherwise, so the client can step up.
	AAL2 bool
}

// Handler builds the function's handler. The chain, outermost first:
// RequestID, AccessLog, Recover, CORS, BodyLimit, then per route: Route, Authenticate, RequireRole,
// RequireAAL2, RateLimit, Idempotency, the route's handler. Unknown paths get a 404 problem. It panics on
// an invalid route table (a programming error caught by every test that builds the function).
func Handler(d *Deps, routes []Route) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		if err := rt.Policy.Validate(); err != nil {
			panic(fmt.Sprintf("platform: route %q: %v", rt.Pattern, err))
		}
		if rt.Public && rt.Policy.Scope != ratelimit.ScopeIP {
			panic(fmt.Sprintf("platform: public route %q must be limited per client IP (ScopeIP)", rt.Pattern))
		}
		if rt.Public && (rt.Roles != nil || rt.AAL2) {
			panic(fmt.Sprintf("platform: public route %q cannot require roles or aal2", rt.Pattern))
		}
		if rt.Idempotency != IdempotencyNone && d.Idempotency == nil {
			panic(fmt.Sprintf("platform: route %q takes an Idempotency-Key and there is no idempotency store: %v", rt.Pattern, d.idempotencyErr))
		}
		chain := []middleware.Middleware{middleware.Route(rt.Pattern)}
		if !rt.Public {
			chain = append(chain, middleware.Authenticate(d.Verifier, middleware.AuthOptions{
				TrustGateway: d.Config.JWT.TrustGatewayClaims, Audit: d.Audit,
				Failures: d.Limiter, FailurePolicy: authFailurePolicy(),
			}))
		}
		// The guards run before RateLimit: they decide from the verified token alone, in memory, so a
		// refusal costs less than the Redis round trip it saves, repeating it teaches the caller nothing
		// its own token does not say, and a client told to step up to aal2 keeps its budget for the retry.
		if rt.Roles != nil {
			chain = append(chain, middleware.RequireRole(rt.Roles...))
		}
		if rt.AAL2 {
			chain = append(chain, middleware.RequireAAL2())
		}
		chain = append(chain, middleware.RateLimit(d.Limiter, rt.Policy, d.Audit))
		if rt.Idempotency != IdempotencyNone {
			chain = append(chain, middleware.Idempotency(d.Idempotency, middleware.IdempotencyOptions{
				Route: rt.Pattern, Required: rt.Idempotency == IdempotencyRequired, TTL: d.Config.IdempotencyTTL,
			}))
		}
		mux.Handle(rt.Pattern, middleware.Chain(chain...)(rt.Handler))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeNotFound, "no route for %s %s", r.Method, strings.ReplaceAll(r.URL.Path, "\n", "")))
	}))
	return middleware.Chain(
		middleware.RequestID(),
		middleware.AccessLog(d.Log, d.Config.MetricsNamespace),
		middleware.Recover(),
		middleware.CORS(d.Config.CORSAllowedOrigins),
		middleware.BodyLimit(d.Config.MaxBodyBytes),
	)(mux)
}
