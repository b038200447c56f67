package catalog_test

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/platform/platformtest"
)

type tenantBody struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
	Role        string `json:"role"`
}

type tenantMemberBody struct {
	UserID      string `json:"user_id"`
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
}

type tenantMembersPage struct {
	Items      []tenantMemberBody `json:"items"`
	NextCursor string             `json:"next_cursor"`
}

type inviteBody struct {
	ID              string  `json:"id"`
	Role            string  `json:"role"`
	CreatedBy       *string `json:"created_by"`
	EmailRestricted bool    `json:"email_restricted"`
	Code            string  `json:"code"`
}

// tenantFixture is the tenant function over its real dependencies: tenant A has an owner, an admin and a
// plain member; tenant B an owner and a member.
type tenantFixture struct {
	*fixture
	adminA caller
}

func newTenantFixture(t *testing.T) *tenantFixture {
	t.Helper()
	f := &tenantFixture{fixture: newFixture(t, catalog.Tenant)}
	f.adminA = f.addMember(t, f.a.ID, "admin")
	return f
}

// addMember inserts a user with role in tenantID and returns them signed in.
func (f *tenantFixture) addMember(t *testing.T, tenantID, role string) caller {
	t.Helper()
	id := uuid.NewString()
	ctx := t.Context()
	if _, err := f.env.DB.Owner.Exec(ctx, `INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)`, id, id+"@example.test", "The "+role); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.DB.Owner.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, id, role); err != nil {
		t.Fatal(err)
	}
	return caller{id, f.env.Token(t, tenantID, id, role)}
}

// role returns userID's role in tenant A, "" when not a member.
func (f *tenantFixture) role(t *testing.T, userID string) string {
	t.Helper()
	var role string
	err := f.env.DB.Owner.QueryRow(t.Context(), `SELECT coalesce((SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2), '')`, f.a.ID, userID).Scan(&role)
	if err != nil {
		t.Fatal(err)
	}
	return role
}

func TestTenantEndToEnd(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)

	var got tenantBody
	f.do(t, f.memberA, "GET", "/tenant", "").JSON(t, &got)
	if diff := cmp.Diff(tenantBody{ID: f.a.ID, Name: "tenant-a", MemberCount: 3, Role: "member"}, got); diff != "" {
		t.Errorf("GET /tenant (-want +got):\n%s", diff)
	}
	f.do(t, caller{}, "GET", "/tenant", "").Problem(t, http.StatusUnauthorized)

	res := f.do(t, f.adminA, "PATCH", "/tenant", `{"name":"  Sunrise Stables  "}`)
	if res.Status != http.StatusOK {
		t.Fatalf("rename: status %d: %s", res.Status, res.Body)
	}
	res.JSON(t, &got)
	if got.Name != "Sunrise Stables" || got.Role != "admin" {
		t.Errorf("renamed = %+v, want name trimmed and the admin's role", got)
	}
	p := f.do(t, f.adminA, "PATCH", "/tenant", `{"name":""}`).Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"name"}, fieldsOf(p)); diff != "" {
		t.Errorf("rename problems (-want +got):\n%s", diff)
	}

	// The member list, one per page, then every member.
	var ids []string
	cursor := ""
	for range 4 {
		var page tenantMembersPage
		f.do(t, f.memberA, "GET", "/tenant/members?limit=1&cursor="+url.QueryEscape(cursor), "").JSON(t, &page)
		for _, m := range page.Items {
			ids = append(ids, m.UserID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{f.adminA.userID, f.memberA.userID, f.ownerA.userID}
	if diff := cmp.Diff(want, ids, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("members across pages (-want +got):\n%s", diff)
	}
	f.do(t, f.memberA, "GET", "/tenant/members?cursor=forged", "").Problem(t, http.StatusBadRequest)
}

// Members may not change anything; admins may not touch owners nor make any.
func TestTenantRoleChecks(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)
	moderator := f.addMember(t, f.a.ID, "moderator")
	var inviteA string
	if err := f.env.DB.Owner.QueryRow(t.Context(), `INSERT INTO tenant_invites (tenant_id, code_hash, role, expires_at) VALUES ($1, sha256('a'::bytea), 'member', now() + interval '1 day') RETURNING id`, f.a.ID).Scan(&inviteA); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name                string
		by                  caller
		method, path, body  string
		wantStatus          int
		target, wantRoleNow string // when target is set: its role afterwards
	}{
		{"member renames", f.memberA, "PATCH", "/tenant", `{"name":"Mine"}`, http.StatusForbidden, "", ""},
		{"member promotes themself", f.memberA, "PATCH", "/tenant/members/" + f.memberA.userID, `{"role":"admin"}`, http.StatusForbidden, f.memberA.userID, "member"},
		{"member removes the moderator", f.memberA, "DELETE", "/tenant/members/" + moderator.userID, "", http.StatusForbidden, moderator.userID, "moderator"},
		{"member invites", f.memberA, "POST", "/tenant/invites", `{"role":"member"}`, http.StatusForbidden, "", ""},
		{"member lists invites", f.memberA, "GET", "/tenant/invites", "", http.StatusForbidden, "", ""},
		{"member revokes an invite", f.memberA, "DELETE", "/tenant/invites/" + inviteA, "", http.StatusForbidden, "", ""},
		{"moderator demotes the admin", moderator, "PATCH", "/tenant/members/" + f.adminA.userID, `{"role":"member"}`, http.StatusForbidden, f.adminA.userID, "admin"},
		{"admin demotes the owner", f.adminA, "PATCH", "/tenant/members/" + f.ownerA.userID, `{"role":"member"}`, http.StatusForbidden, f.ownerA.userID, "owner"},
		{"admin removes the owner", f.adminA, "DELETE", "/tenant/members/" + f.ownerA.userID, "", http.StatusForbidden, f.ownerA.userID, "owner"},
		{"admin makes the member an owner", f.adminA, "PATCH", "/tenant/members/" + f.memberA.userID, `{"role":"owner"}`, http.StatusForbidden, f.memberA.userID, "member"},
		{"admin makes themself an owner", f.adminA, "PATCH", "/tenant/members/" + f.adminA.userID, `{"role":"owner"}`, http.StatusForbidden, f.adminA.userID, "admin"},
		{"unknown role", f.ownerA, "PATCH", "/tenant/members/" + f.memberA.userID, `{"role":"king"}`, http.StatusBadRequest, f.memberA.userID, "member"},
		{"not a user id", f.ownerA, "PATCH", "/tenant/members/someone", `{"role":"admin"}`, http.StatusNotFound, "", ""},
		{"unknown user", f.ownerA, "DELETE", "/tenant/members/" + uuid.NewString(), "", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share tenant A.
			f.do(t, tt.by, tt.method, tt.path, tt.body).Problem(t, tt.wantStatus)
			if tt.target != "" {
				if got := f.role(t, tt.target); got != tt.wantRoleNow {
					t.Errorf("role afterwards = %q, want %q", got, tt.wantRoleNow)
				}
			}
		})
	}

	// What admins may do: promote the member to moderator, demote the moderator.
	var m tenantMemberBody
	res := f.do(t, f.adminA, "PATCH", "/tenant/members/"+f.memberA.userID, `{"role":"moderator"}`)
	if res.Status != http.StatusOK {
		t.Fatalf("admin promotes the member: status %d: %s", res.Status, res.Body)
	}
	res.JSON(t, &m)
	if diff := cmp.Diff(tenantMemberBody{UserID: f.memberA.userID, Role: "moderator", DisplayName: "tenant-a member"}, m); diff != "" {
		t.Errorf("changed member (-want +got):\n%s", diff)
	}
	if res := f.do(t, f.adminA, "DELETE", "/tenant/members/"+moderator.userID, ""); res.Status != http.StatusNoContent {
		t.Errorf("admin removes the moderator: status %d: %s", res.Status, res.Body)
	}
	// The token still says member; the database says moderator, which may not invite.
	f.do(t, f.memberA, "POST", "/tenant/invites", `{"role":"member"}`).Problem(t, http.StatusForbidden)
}

// The last owner cannot be removed, leave, or be demoted: 409 with a message saying what to do.
func TestTenantLastOwnerCannotBeRemoved(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)

	for _, tt := range []struct{ method, body string }{{"DELETE", ""}, {"PATCH", `{"role":"admin"}`}, {"PATCH", `{"role":"member"}`}} {
		p := f.do(t, f.ownerA, tt.method, "/tenant/members/"+f.ownerA.userID, tt.body).Problem(t, http.StatusConflict)
		if !strings.Contains(p.Detail, "last owner") || !strings.Contains(p.Detail, "make another member an owner first") {
			t.Errorf("%s %s: detail = %q", tt.method, tt.body, p.Detail)
		}
	}
	if got := f.role(t, f.ownerA.userID); got != "owner" {
		t.Fatalf("the last owner is now %q", got)
	}

	// With a second owner the first may leave; the second, now the last, may not.
	if res := f.do(t, f.ownerA, "PATCH", "/tenant/members/"+f.adminA.userID, `{"role":"owner"}`); res.Status != http.StatusOK {
		t.Fatalf("owner promotes the admin: status %d: %s", res.Status, res.Body)
	}
	if res := f.do(t, f.ownerA, "DELETE", "/tenant/members/"+f.ownerA.userID, ""); res.Status != http.StatusNoContent {
		t.Fatalf("first owner leaves: status %d: %s", res.Status, res.Body)
	}
	f.do(t, f.adminA, "DELETE", "/tenant/members/"+f.adminA.userID, "").Problem(t, http.StatusConflict)
	// The one who left is no longer a member, whatever their token says.
	f.do(t, f.ownerA, "GET", "/tenant", "").Problem(t, http.StatusForbidden)
}

// Removing a member revokes their sessions in the tenant, and the audit log records who did it, through
// which route and request.
func TestTenantRemovalRevokesSessions(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)
	ctx := t.Context()

	var sessionA, sessionB string
	const insertSession = `INSERT INTO sessions (tenant_id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day') RETURNING id`
	if err := f.env.DB.Owner.QueryRow(ctx, insertSession, f.a.ID, f.memberA.userID).Scan(&sessionA); err != nil {
		t.Fatal(err)
	}
	if err := f.env.DB.Owner.QueryRow(ctx, insertSession, f.b.ID, f.ownerB.userID).Scan(&sessionB); err != nil {
		t.Fatal(err)
	}

	if res := f.do(t, f.adminA, "DELETE", "/tenant/members/"+f.memberA.userID, ""); res.Status != http.StatusNoContent {
		t.Fatalf("remove: status %d: %s", res.Status, res.Body)
	}
	var reasonA, reasonB *string
	if err := f.env.DB.Owner.QueryRow(ctx, `SELECT (SELECT revoked_reason FROM sessions WHERE id = $1), (SELECT revoked_reason FROM sessions WHERE id = $2)`,
		sessionA, sessionB).Scan(&reasonA, &reasonB); err != nil {
		t.Fatal(err)
	}
	if reasonA == nil || *reasonA != "membership" {
		t.Errorf("removed member's session: revoked_reason = %v, want membership", reasonA)
	}
	if reasonB != nil {
		t.Errorf("tenant B's session was revoked (%s)", *reasonB)
	}
	var by, route, requestID string
	err := f.env.DB.Owner.QueryRow(ctx, `SELECT user_id, route, request_id FROM audit_events WHERE tenant_id = $1 AND kind = 'tenant.member_removed' AND detail->>'user_id' = $2`,
		f.a.ID, f.memberA.userID).Scan(&by, &route, &requestID)
	if err != nil {
		t.Fatalf("audit event of the removal: %v", err)
	}
	if by != f.adminA.userID || route != "DELETE /tenant/members/{user_id}" || requestID == "" {
		t.Errorf("audit event by %s, route %q, request id %q", by, route, requestID)
	}
	f.do(t, f.memberA, "GET", "/tenant/members", "").Problem(t, http.StatusForbidden)
}

// An invite's code is shown once, in an uncacheable 201; only its SHA-256 digest is stored, and no
// idempotency record keeps the response even when the client sends a key.
func TestTenantInvites(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)
	ctx := t.Context()

	req := httptest.NewRequest("POST", "/tenant/invites", strings.NewReader(`{"role":"moderator","expires_in_hours":24}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "invite-once")
	res := platformtest.Do(t, f.h, req, f.adminA.token)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	var inv inviteBody
	res.JSON(t, &inv)
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got, want := res.Header.Get("Location"), "/tenant/invites/"+inv.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if inv.Role != "moderator" || inv.CreatedBy == nil || *inv.CreatedBy != f.adminA.userID || inv.EmailRestricted {
		t.Errorf("invite = %+v", inv)
	}
	// inv_ and 32 random bytes in unpadded base64url: 4 + 43 characters.
	if !strings.HasPrefix(inv.Code, "inv_") || len(inv.Code) != 47 {
		t.Errorf("code %q: want inv_ and 43 base64url characters", inv.Code)
	}

	var stored []byte
	var hours float64
	if err := f.env.DB.Owner.QueryRow(ctx, `SELECT code_hash, extract(epoch FROM expires_at - created_at) / 3600 FROM tenant_invites WHERE id = $1`, inv.ID).Scan(&stored, &hours); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(inv.Code)); !bytes.Equal(stored, sum[:]) {
		t.Errorf("code_hash = %x, want sha256(code) = %x", stored, sum)
	}
	if hours != 24 {
		t.Errorf("invite valid for %v hours, want 24", hours)
	}
	var copies int
	err := f.env.DB.Owner.QueryRow(ctx, `
SELECT (SELECT count(*) FROM idempotency_keys WHERE position(convert_to($1, 'UTF8') IN coalesce(response_body, '')) > 0)
     + (SELECT count(*) FROM idempotency_keys WHERE key = 'invite-once')
     + (SELECT count(*) FROM audit_events WHERE detail::text LIKE '%' || $1 || '%')`, inv.Code).Scan(&copies)
	if err != nil {
		t.Fatal(err)
	}
	if copies != 0 {
		t.Errorf("the code, or the response carrying it, is stored %d times", copies)
	}

	// The listing shows the invite, never the code.
	res = f.do(t, f.ownerA, "GET", "/tenant/invites", "")
	var page struct {
		Items []inviteBody `json:"items"`
	}
	res.JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != inv.ID || page.Items[0].Code != "" || bytes.Contains(res.Body, []byte(inv.Code)) {
		t.Errorf("GET /tenant/invites = %s", res.Body)
	}

	for _, tt := range []struct{ body, field string }{
		{`{"role":"owner"}`, "role"},
		{`{"role":"member","expires_in_hours":0}`, "expires_in_hours"},
		{`{"role":"member","expires_in_hours":721}`, "expires_in_hours"},
		{`{"role":"member","email":"Rider <rider@example.test>"}`, "email"},
		{`{"role":"member","code":"inv_mine"}`, "code"},
	} {
		p := f.do(t, f.ownerA, "POST", "/tenant/invites", tt.body).Problem(t, http.StatusBadRequest)
		if diff := cmp.Diff([]string{tt.field}, fieldsOf(p)); diff != "" {
			t.Errorf("%s: problem fields (-want +got):\n%s", tt.body, diff)
		}
	}

	// An invite for one email address stores the address's blind index only.
	res = f.do(t, f.ownerA, "POST", "/tenant/invites", `{"role":"member","email":" Rider@Example.test "}`)
	var restricted inviteBody
	res.JSON(t, &restricted)
	if res.Status != http.StatusCreated || !restricted.EmailRestricted {
		t.Fatalf("restricted invite: status %d: %s", res.Status, res.Body)
	}
	var bidx []byte
	if err := f.env.DB.Owner.QueryRow(ctx, `SELECT email_bidx FROM tenant_invites WHERE id = $1`, restricted.ID).Scan(&bidx); err != nil {
		t.Fatal(err)
	}
	if want := f.env.Deps.BlindIndex.Index("rider@example.test"); !bytes.Equal(bidx, want) {
		t.Errorf("email_bidx = %x, want the blind index of rider@example.test, %x", bidx, want)
	}
	var mentions int
	if err := f.env.DB.Owner.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE detail::text ILIKE '%rider@%'`).Scan(&mentions); err != nil || mentions != 0 {
		t.Errorf("the audit log names the email %d times (%v)", mentions, err)
	}
	if res := f.do(t, f.ownerA, "DELETE", "/tenant/invites/"+restricted.ID, ""); res.Status != http.StatusNoContent {
		t.Fatalf("revoke the restricted invite: status %d: %s", res.Status, res.Body)
	}

	// Tenant B can neither see nor revoke it.
	res = f.do(t, f.ownerB, "GET", "/tenant/invites", "")
	if res.Status != http.StatusOK || bytes.Contains(res.Body, []byte(inv.ID)) {
		t.Errorf("B's invites: status %d: %s", res.Status, res.Body)
	}
	f.do(t, f.ownerB, "DELETE", "/tenant/invites/"+inv.ID, "").Problem(t, http.StatusNotFound)

	if res := f.do(t, f.adminA, "DELETE", "/tenant/invites/"+inv.ID, ""); res.Status != http.StatusNoContent {
		t.Fatalf("revoke: status %d: %s", res.Status, res.Body)
	}
	res = f.do(t, f.ownerA, "GET", "/tenant/invites", "")
	if bytes.Contains(res.Body, []byte(inv.ID)) {
		t.Errorf("revoked invite still listed: %s", res.Body)
	}
	f.do(t, f.ownerA, "DELETE", "/tenant/invites/"+uuid.NewString(), "").Problem(t, http.StatusNotFound)
}

// Tenant B's owner sees none of A's members and changes none of them.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := newTenantFixture(t)

	res := f.do(t, f.ownerB, "GET", "/tenant/members", "")
	if res.Status != http.StatusOK {
		t.Fatalf("B's members: status %d: %s", res.Status, res.Body)
	}
	for _, id := range []string{f.a.ID, f.ownerA.userID, f.memberA.userID, f.adminA.userID} {
		if bytes.Contains(res.Body, []byte(id)) {
			t.Errorf("B's member list names A's %s: %s", id, res.Body)
		}
	}
	var got tenantBody
	f.do(t, f.ownerB, "GET", "/tenant", "").JSON(t, &got)
	if got.ID != f.b.ID || got.MemberCount != 2 {
		t.Errorf("B's tenant = %+v", got)
	}
	f.do(t, f.ownerB, "PATCH", "/tenant/members/"+f.memberA.userID, `{"role":"admin"}`).Problem(t, http.StatusNotFound)
	f.do(t, f.ownerB, "DELETE", "/tenant/members/"+f.memberA.userID, "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerB, "DELETE", "/tenant/members/"+f.ownerA.userID, "").Problem(t, http.StatusNotFound)
	if role := f.role(t, f.memberA.userID); role != "member" {
		t.Errorf("A's member is now %q", role)
	}
	if role := f.role(t, f.ownerA.userID); role != "owner" {
		t.Errorf("A's owner is now %q", role)
	}
}
