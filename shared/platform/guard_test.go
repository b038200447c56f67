package platform_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

func TestRouteRolesAndAAL2(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	tn := env.NewTenant(t, "guarded")
	policy := ratelimit.Policy{Name: "t.guarded", Rate: 1000, Period: time.Minute, Scope: ratelimit.ScopeUser}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := platform.Handler(env.Deps, []platform.Route{
		{Pattern: "POST /owners-only", Policy: policy, Roles: []string{auth.RoleOwner}, Handler: ok},
		{Pattern: "POST /step-up", Policy: policy, AAL2: true, Handler: ok},
		{Pattern: "POST /owners-step-up", Policy: policy, Roles: []string{auth.RoleOwner}, AAL2: true, Handler: ok},
		{Pattern: "GET /control-room", Policy: policy, Roles: []string{middleware.RolePlatformAdmin}, Handler: ok},
	})
	token := func(user, role, aal string) string {
		t.Helper()
		tok, err := env.Signer.Sign(auth.Claims{Issuer: platformtest.Issuer, Audience: platformtest.Audience,
			Subject: user, TenantID: tn.ID, Role: role, AAL: aal}, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	member := env.Token(t, tn.ID, tn.MemberID, auth.RoleMember)
	owner := env.Token(t, tn.ID, tn.OwnerID, auth.RoleOwner)
	memberAAL2 := token(tn.MemberID, auth.RoleMember, "aal2")
	ownerAAL2 := token(tn.OwnerID, auth.RoleOwner, "aal2")
	operator := env.Token(t, tn.ID, tn.MemberID, middleware.RolePlatformAdmin)

	tests := []struct {
		name, method, path, token string
		code                      httpapi.Code // "": 204 from the handler
	}{
		{"member on an owner route", "POST", "/owners-only", member, httpapi.CodeForbidden},
		{"owner on an owner route", "POST", "/owners-only", owner, ""},
		{"aal1 on an aal2 route", "POST", "/step-up", member, httpapi.CodeMFARequired},
		{"aal2 on an aal2 route", "POST", "/step-up", memberAAL2, ""},
		{"aal1 owner on an owner aal2 route", "POST", "/owners-step-up", owner, httpapi.CodeMFARequired},
		{"aal2 member on an owner aal2 route", "POST", "/owners-step-up", memberAAL2, httpapi.CodeForbidden},
		{"aal2 owner on an owner aal2 route", "POST", "/owners-step-up", ownerAAL2, ""},
		{"tenant owner in the control room", "GET", "/control-room", ownerAAL2, httpapi.CodeForbidden},
		{"platform admin in the control room", "GET", "/control-room", operator, ""},
		{"no token", "POST", "/owners-only", "", httpapi.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := platformtest.Do(t, h, req(tc.method, tc.path, ""), tc.token)
			if tc.code == "" {
				if res.Status != http.StatusNoContent {
					t.Fatalf("status = %d, want 204; body %s", res.Status, res.Body)
				}
				if res.Header.Get("RateLimit") == "" {
					t.Error("no RateLimit header on an admitted request")
				}
				return
			}
			if p := res.Problem(t, httpapi.Status(tc.code)); p.Type != httpapi.ProblemTypeBase+string(tc.code) {
				t.Errorf("problem type = %q, want code %q", p.Type, tc.code)
			}
			// The guards run before RateLimit: a refusal spends none of the route's budget.
			if rl := res.Header.Get("RateLimit"); strings.Contains(rl, policy.Name) {
				t.Errorf("RateLimit = %q on a refusal, want no word from the route's policy", rl)
			}
		})
	}
}

func TestPublicRouteCannotRequireRolesOrAAL2(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	policy := ratelimit.Policy{Name: "t.public-guard", Rate: 10, Period: time.Minute, Scope: ratelimit.ScopeIP}
	for _, rt := range []platform.Route{
		{Pattern: "GET /a", Public: true, Policy: policy, Roles: []string{auth.RoleOwner}, Handler: http.NotFoundHandler()},
		{Pattern: "GET /b", Public: true, Policy: policy, AAL2: true, Handler: http.NotFoundHandler()},
	} {
		t.Run(rt.Pattern, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Handler accepted a public route with a guard")
				}
			}()
			platform.Handler(env.Deps, []platform.Route{rt})
		})
	}
}
