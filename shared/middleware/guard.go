package middleware

import (
	"net/http"
	"strings"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

// RolePlatformAdmin is the role of the platform's operators (the control room), held on top of any tenant
// role. It is the same string as queueadmin.RolePlatformAdmin.
const RolePlatformAdmin = "platform_admin"

// RequireRole lets a request through only when its principal holds at least one of roles. It runs after
// Authenticate: a request without a principal is 401, one whose principal holds none of the roles is 403
// problem+json with code "forbidden". With no roles given it refuses every request (a route nobody may use
// is a safer mistake than one everybody may).
func RequireRole(roles ...string) Middleware {
	roles = append([]string(nil), roles...)
	msg := "this route requires one of the roles: " + strings.Join(roles, ", ")
	return guard(func(p auth.Principal) *httpapi.Error {
		if !p.HasRole(roles...) {
			return &httpapi.Error{Code: httpapi.CodeForbidden, Message: msg}
		}
		return nil
	})
}

// RequirePlatformAdmin is RequireRole(RolePlatformAdmin): the control room's routes.
func RequirePlatformAdmin() Middleware { return RequireRole(RolePlatformAdmin) }

// RequireAAL2 lets a request through only when its principal signed in with a second factor (AAL "aal2",
// or the stronger "aal3"). It runs after Authenticate: a request without a principal is 401; an aal1
// principal is 403 problem+json with code "mfa-required", telling the client to step up (verify a second
// factor and retry with the new token).
func RequireAAL2() Middleware {
	return guard(func(p auth.Principal) *httpapi.Error {
		if p.AAL != "aal2" && p.AAL != "aal3" {
			return &httpapi.Error{Code: httpapi.CodeMFARequired, Message: "this route requires a second factor; step up and retry"}
		}
		return nil
	})
}

// guard refuses a request whose principal check returns an error, and one without a principal.
func guard(check func(auth.Principal) *httpapi.Error) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := httpapi.Caller(r)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer`)
				httpapi.WriteError(w, r, err)
				return
			}
			if e := check(p); e != nil {
				httpapi.WriteError(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
