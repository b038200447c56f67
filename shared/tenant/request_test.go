package tenant_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/tenant"
)

func ptr[T any](v T) *T { return &v }

func TestRenameRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantName string
		want     []httpapi.FieldProblem
	}{
		{"plain", "Sunrise Stables", "Sunrise Stables", nil},
		{"trimmed", "  Sunrise  ", "Sunrise", nil},
		{"200 characters", strings.Repeat("é", 200), strings.Repeat("é", 200), nil},
		{"empty", "", "", []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"blank", " \t ", "", []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"201 characters", strings.Repeat("n", 201), strings.Repeat("n", 201), []httpapi.FieldProblem{{Field: "name", Reason: "must be at most 200 characters"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tenant.RenameRequest{Name: tt.in}
			if diff := cmp.Diff(tt.want, r.Validate()); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if r.Name != tt.wantName {
				t.Errorf("name after Validate = %q, want %q", r.Name, tt.wantName)
			}
		})
	}
}

func TestChangeRoleRequestValidate(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"owner", "admin", "moderator", "member"} {
		if got := (&tenant.ChangeRoleRequest{Role: role}).Validate(); got != nil {
			t.Errorf("role %s: %v", role, got)
		}
	}
	want := []httpapi.FieldProblem{{Field: "role", Reason: "must be one of owner, admin, moderator, member"}}
	for _, role := range []string{"", "Owner", "staff"} {
		if diff := cmp.Diff(want, (&tenant.ChangeRoleRequest{Role: role}).Validate()); diff != "" {
			t.Errorf("role %q (-want +got):\n%s", role, diff)
		}
	}
}

func TestInviteRequestValidate(t *testing.T) {
	t.Parallel()
	const (
		roleReason  = "must be one of admin, moderator, member"
		hoursReason = "must be a whole number from 1 to 720"
		emailReason = "must be an email address of at most 254 characters"
	)
	tests := []struct {
		name    string
		in      tenant.InviteRequest
		want    []httpapi.FieldProblem
		wantTTL time.Duration
	}{
		{"defaults", tenant.InviteRequest{Role: "member"}, nil, 168 * time.Hour},
		{"an hour", tenant.InviteRequest{Role: "admin", ExpiresInHours: ptr(1)}, nil, time.Hour},
		{"thirty days", tenant.InviteRequest{Role: "moderator", ExpiresInHours: ptr(720)}, nil, 720 * time.Hour},
		{"email", tenant.InviteRequest{Role: "member", Email: ptr(" rider@example.test ")}, nil, 168 * time.Hour},
		{"owner", tenant.InviteRequest{Role: "owner"}, []httpapi.FieldProblem{{Field: "role", Reason: roleReason}}, 0},
		{"no role", tenant.InviteRequest{}, []httpapi.FieldProblem{{Field: "role", Reason: roleReason}}, 0},
		{"zero hours", tenant.InviteRequest{Role: "member", ExpiresInHours: ptr(0)}, []httpapi.FieldProblem{{Field: "expires_in_hours", Reason: hoursReason}}, 0},
		{"over thirty days", tenant.InviteRequest{Role: "member", ExpiresInHours: ptr(721)}, []httpapi.FieldProblem{{Field: "expires_in_hours", Reason: hoursReason}}, 0},
		{"empty email", tenant.InviteRequest{Role: "member", Email: ptr("")}, []httpapi.FieldProblem{{Field: "email", Reason: emailReason}}, 0},
		{"not an email", tenant.InviteRequest{Role: "member", Email: ptr("rider")}, []httpapi.FieldProblem{{Field: "email", Reason: emailReason}}, 0},
		{"display name", tenant.InviteRequest{Role: "member", Email: ptr("Rider <rider@example.test>")}, []httpapi.FieldProblem{{Field: "email", Reason: emailReason}}, 0},
		{"too long", tenant.InviteRequest{Role: "member", Email: ptr(strings.Repeat("r", 250) + "@x.io")}, []httpapi.FieldProblem{{Field: "email", Reason: emailReason}}, 0},
		{"everything wrong", tenant.InviteRequest{Role: "owner", Email: ptr("@"), ExpiresInHours: ptr(-1)},
			[]httpapi.FieldProblem{{Field: "role", Reason: roleReason}, {Field: "email", Reason: emailReason}, {Field: "expires_in_hours", Reason: hoursReason}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			if diff := cmp.Diff(tt.want, in.Validate()); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if tt.want == nil {
				if got := in.TTL(); got != tt.wantTTL {
					t.Errorf("TTL = %v, want %v", got, tt.wantTTL)
				}
				if in.Email != nil && *in.Email != strings.TrimSpace(*tt.in.Email) {
					t.Errorf("email after Validate = %q, want it trimmed", *in.Email)
				}
			}
		})
	}
}

// The listings refuse cursors they did not issue before they ask the store, so they need none.
func TestListingsRejectBadCursors(t *testing.T) {
	t.Parallel()
	cursors := httpapi.NewCursors(bytes.Repeat([]byte("k"), 32))
	notUUID, err := cursors.Encode(tenant.Position{CreatedAt: time.Now(), ID: "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"members", tenant.Members(nil, cursors)}, {"invites", tenant.Invites(nil, cursors)}} {
		for _, c := range []struct{ name, cursor string }{{"signed, id not a UUID", notUUID}, {"forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}} {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				r := httptest.NewRequest("GET", "/?cursor="+c.cursor, nil)
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "t", UserID: "u"}))
				rec := httptest.NewRecorder()
				h.h.ServeHTTP(rec, r)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"cursor"`) {
					t.Errorf("status %d, want 400 naming the cursor: %s", rec.Code, rec.Body)
				}
			})
		}
	}
}
