package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/queueadmin"
)

func TestGuards(t *testing.T) {
	t.Parallel()
	principal := func(aal string, roles ...string) *auth.Principal {
		return &auth.Principal{TenantID: "0b6f4c1e-3c55-4d6e-9a51-0d6b8e2f7a01", UserID: "11111111-1111-4111-8111-111111111111", Roles: roles, AAL: aal}
	}
	tests := []struct {
		name  string
		guard middleware.Middleware
		p     *auth.Principal // nil: anonymous
		code  httpapi.Code    // "": let through
	}{
		{"role held", middleware.RequireRole(auth.RoleOwner), principal("aal1", auth.RoleOwner), ""},
		{"one of the roles held", middleware.RequireRole(auth.RoleOwner, auth.RoleAdmin), principal("aal1", auth.RoleAdmin), ""},
		{"role missing", middleware.RequireRole(auth.RoleOwner, auth.RoleAdmin), principal("aal1", auth.RoleMember), httpapi.CodeForbidden},
		{"no roles at all", middleware.RequireRole(auth.RoleOwner), principal("aal1"), httpapi.CodeForbidden},
		{"guard naming no role", middleware.RequireRole(), principal("aal1", auth.RoleOwner), httpapi.CodeForbidden},
		{"role anonymous", middleware.RequireRole(auth.RoleMember), nil, httpapi.CodeUnauthorized},
		{"platform admin", middleware.RequirePlatformAdmin(), principal("aal1", auth.RoleMember, queueadmin.RolePlatformAdmin), ""},
		{"tenant owner is no platform admin", middleware.RequirePlatformAdmin(), principal("aal2", auth.RoleOwner), httpapi.CodeForbidden},
		{"aal2", middleware.RequireAAL2(), principal("aal2", auth.RoleMember), ""},
		{"aal3", middleware.RequireAAL2(), principal("aal3", auth.RoleMember), ""},
		{"aal1", middleware.RequireAAL2(), principal("aal1", auth.RoleOwner), httpapi.CodeMFARequired},
		{"no aal", middleware.RequireAAL2(), principal("", auth.RoleOwner), httpapi.CodeMFARequired},
		{"aal anonymous", middleware.RequireAAL2(), nil, httpapi.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reached := false
			h := tc.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodPost, "/things", nil)
			if tc.p != nil {
				r = r.WithContext(auth.WithPrincipal(r.Context(), *tc.p))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if tc.code == "" {
				if rec.Code != http.StatusNoContent || !reached {
					t.Fatalf("status = %d (handler reached %v), want 204 from the handler; body %s", rec.Code, reached, rec.Body)
				}
				return
			}
			if reached {
				t.Error("the handler ran behind a refusing guard")
			}
			if want := httpapi.Status(tc.code); rec.Code != want {
				t.Errorf("status = %d, want %d", rec.Code, want)
			}
			if p := readProblem(t, rec); p.Type != httpapi.ProblemTypeBase+string(tc.code) {
				t.Errorf("problem type = %q, want code %q", p.Type, tc.code)
			}
		})
	}
}

func TestRolePlatformAdminMatchesQueueAdmin(t *testing.T) {
	t.Parallel()
	if middleware.RolePlatformAdmin != queueadmin.RolePlatformAdmin {
		t.Errorf("middleware.RolePlatformAdmin = %q, queueadmin.RolePlatformAdmin = %q: one role, one name",
			middleware.RolePlatformAdmin, queueadmin.RolePlatformAdmin)
	}
}
