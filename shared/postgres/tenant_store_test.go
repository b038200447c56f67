package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/postgres/pgtest"
	"github.com/rocker-app/corral/shared/tenant"
)

// addTenantMember inserts a user with the given role in tenantID (through the owner pool) and returns an
// actor for them whose token claims role too.
func addTenantMember(t testing.TB, owner *pgxpool.Pool, tenantID, role string) tenant.Actor {
	t.Helper()
	id := uuid.NewString()
	ctx := context.Background()
	if _, err := owner.Exec(ctx, `INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)`, id, id+"@example.com", role+" account"); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)`, tenantID, id, role); err != nil {
		t.Fatal(err)
	}
	return tenant.Actor{Principal: auth.Principal{TenantID: tenantID, UserID: id, Roles: []string{role}}}
}

// roleOf returns userID's role in tenantID, "" when not a member (read through the owner pool).
func roleOf(t testing.TB, owner *pgxpool.Pool, tenantID, userID string) string {
	t.Helper()
	var role string
	err := owner.QueryRow(context.Background(), `SELECT coalesce((SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2), '')`, tenantID, userID).Scan(&role)
	if err != nil {
		t.Fatal(err)
	}
	return role
}

func countOwners(t testing.TB, owner *pgxpool.Pool, tenantID string) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(), `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'`, tenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func actorOf(p auth.Principal) tenant.Actor { return tenant.Actor{Principal: p} }

func TestTenantStoreGetAndRename(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()

	got, err := s.Get(ctx, w.memberA2())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := tenant.Tenant{ID: w.tenantA, Name: "Tenant A", Slug: "a-" + w.tenantA, MemberCount: 2, Role: auth.RoleMember}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(tenant.Tenant{}, "CreatedAt")); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	if _, err := s.Rename(ctx, actorOf(w.memberA2()), "Mine"); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("Rename by a member: err = %v, want ErrForbidden", err)
	}
	a := tenant.Actor{Principal: w.principalA, IP: "192.0.2.7", Route: "PATCH /tenant", RequestID: "req-rename"}
	renamed, err := s.Rename(ctx, a, "Tenant Alpha")
	if err != nil {
		t.Fatalf("Rename: %v", err)
	}
	want.Name, want.Role = "Tenant Alpha", auth.RoleOwner
	if diff := cmp.Diff(want, renamed, cmpopts.IgnoreFields(tenant.Tenant{}, "CreatedAt")); diff != "" {
		t.Errorf("Rename (-want +got):\n%s", diff)
	}
	var user, ip, route, reqID, name string
	err = db.Owner.QueryRow(ctx, `SELECT user_id, host(ip), route, request_id, detail->>'name' FROM audit_events WHERE tenant_id = $1 AND kind = 'tenant.renamed'`,
		w.tenantA).Scan(&user, &ip, &route, &reqID, &name)
	if err != nil {
		t.Fatalf("audit event of the rename: %v", err)
	}
	if diff := cmp.Diff([]string{w.userA, "192.0.2.7", "PATCH /tenant", "req-rename", "Tenant Alpha"}, []string{user, ip, route, reqID, name}); diff != "" {
		t.Errorf("audit event (-want +got):\n%s", diff)
	}

	// Someone with a valid token who is no longer a member.
	gone := auth.Principal{TenantID: w.tenantA, UserID: w.userB, Roles: []string{auth.RoleOwner}}
	if _, err := s.Get(ctx, gone); !errors.Is(err, tenant.ErrNotMember) {
		t.Errorf("Get by a non-member: err = %v, want ErrNotMember", err)
	}
	if _, err := s.Rename(ctx, actorOf(gone), "Stolen"); !errors.Is(err, tenant.ErrNotMember) {
		t.Errorf("Rename by a non-member: err = %v, want ErrNotMember", err)
	}
	if _, err := s.Members(ctx, gone, tenant.PageQuery{Limit: 10}); !errors.Is(err, tenant.ErrNotMember) {
		t.Errorf("Members by a non-member: err = %v, want ErrNotMember", err)
	}
}

// The role in the database decides, not the one in the token: a demoted owner whose token still says
// owner is refused, and a member promoted to admin since their token was issued is allowed.
func TestTenantStoreChecksTheDatabaseRole(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()

	staleOwner := tenant.Actor{Principal: auth.Principal{TenantID: w.tenantA, UserID: w.userA2, Roles: []string{auth.RoleOwner}}}
	if _, err := s.ChangeRole(ctx, staleOwner, w.userA2, auth.RoleOwner); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("member with an owner token promotes themself: err = %v, want ErrForbidden", err)
	}
	if _, err := s.CreateInvite(ctx, staleOwner, tenant.NewInvite{Role: "admin", CodeHash: make([]byte, 32), TTL: time.Hour}); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("member with an owner token invites: err = %v, want ErrForbidden", err)
	}

	admin := addTenantMember(t, db.Owner, w.tenantA, auth.RoleAdmin)
	admin.Roles = []string{auth.RoleMember} // a token from before the promotion
	if _, err := s.Rename(ctx, admin, "Renamed by an admin"); err != nil {
		t.Errorf("admin with a member token renames: %v", err)
	}
}

func TestTenantStoreRoleRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		caller, target string // roles; target "self" is the caller
		to             string // the new role; "" removes the target
		want           error
	}{
		{"owner promotes a member to owner", "owner", "member", "owner", nil},
		{"owner demotes another owner", "owner", "owner", "admin", nil},
		{"owner removes another owner", "owner", "owner", "", nil},
		{"owner demotes themself while another owner remains", "owner", "self+owner", "member", nil},
		{"admin promotes a member to admin", "admin", "member", "admin", nil},
		{"admin demotes another admin", "admin", "admin", "moderator", nil},
		{"admin removes a moderator", "admin", "moderator", "", nil},
		{"admin leaves", "admin", "self", "", nil},
		{"member leaves", "member", "self", "", nil},
		{"admin grants owner", "admin", "member", "owner", tenant.ErrOwnerOnly},
		{"admin promotes themself to owner", "admin", "self", "owner", tenant.ErrOwnerOnly},
		{"admin demotes an owner", "admin", "owner", "member", tenant.ErrOwnerOnly},
		{"admin removes an owner", "admin", "owner", "", tenant.ErrOwnerOnly},
		{"moderator changes a member", "moderator", "member", "moderator", tenant.ErrForbidden},
		{"moderator removes a member", "moderator", "member", "", tenant.ErrForbidden},
		{"member promotes themself", "member", "self", "admin", tenant.ErrForbidden},
		{"member removes another member", "member", "member", "", tenant.ErrForbidden},
		{"owner changes a user of another tenant", "owner", "other tenant", "admin", tenant.ErrMemberNotFound},
		{"owner removes a user of another tenant", "owner", "other tenant", "", tenant.ErrMemberNotFound},
		{"owner removes an unknown user", "owner", "nobody", "", tenant.ErrMemberNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.New(t)
			w := arrange(t, db.Owner) // tenant A has an owner (userA) already
			s := postgres.NewTenantStore(db.App)
			ctx := context.Background()

			caller := addTenantMember(t, db.Owner, w.tenantA, tt.caller)
			var target, before string
			switch tt.target {
			case "self":
				target, before = caller.UserID, tt.caller
			case "self+owner": // the caller, an owner, beside the tenant's first owner
				target, before = caller.UserID, tt.caller
			case "other tenant":
				target, before = w.userB, ""
			case "nobody":
				target = uuid.NewString()
			default:
				target, before = addTenantMember(t, db.Owner, w.tenantA, tt.target).UserID, tt.target
			}

			var err error
			if tt.to == "" {
				err = s.RemoveMember(ctx, caller, target)
			} else {
				_, err = s.ChangeRole(ctx, caller, target, tt.to)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			wantRole := tt.to
			if tt.want != nil {
				wantRole = before
			}
			if got := roleOf(t, db.Owner, w.tenantA, target); got != wantRole {
				t.Errorf("target's role afterwards = %q, want %q", got, wantRole)
			}
			if got := roleOf(t, db.Owner, w.tenantB, w.userB); got != auth.RoleOwner {
				t.Errorf("tenant B's owner is now %q", got)
			}
		})
	}
}

// The last owner cannot leave, be removed or be demoted; a second owner makes each of these possible.
func TestTenantStoreLastOwnerCannotBeRemoved(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()
	owner := actorOf(w.principalA)

	if err := s.RemoveMember(ctx, owner, w.userA); !errors.Is(err, tenant.ErrLastOwner) {
		t.Errorf("last owner leaves: err = %v, want ErrLastOwner", err)
	}
	for _, role := range []string{"admin", "moderator", "member"} {
		if _, err := s.ChangeRole(ctx, owner, w.userA, role); !errors.Is(err, tenant.ErrLastOwner) {
			t.Errorf("last owner demotes themself to %s: err = %v, want ErrLastOwner", role, err)
		}
	}
	if got := roleOf(t, db.Owner, w.tenantA, w.userA); got != auth.RoleOwner {
		t.Fatalf("last owner's role is now %q", got)
	}
	// Unchanged role: no error, nothing recorded, sessions kept.
	if m, err := s.ChangeRole(ctx, owner, w.userA, auth.RoleOwner); err != nil || m.Role != auth.RoleOwner {
		t.Errorf("last owner stays owner: %+v, %v", m, err)
	}

	// A second owner; the first may now leave, after which the second is the last.
	if _, err := s.ChangeRole(ctx, owner, w.userA2, auth.RoleOwner); err != nil {
		t.Fatalf("promote: %v", err)
	}
	if err := s.RemoveMember(ctx, owner, w.userA); err != nil {
		t.Fatalf("first owner leaves beside a second: %v", err)
	}
	second := tenant.Actor{Principal: auth.Principal{TenantID: w.tenantA, UserID: w.userA2, Roles: []string{auth.RoleOwner}}}
	if err := s.RemoveMember(ctx, second, w.userA2); !errors.Is(err, tenant.ErrLastOwner) {
		t.Errorf("second owner, now the last, leaves: err = %v, want ErrLastOwner", err)
	}
	if n := countOwners(t, db.Owner, w.tenantA); n != 1 {
		t.Errorf("owners = %d, want 1", n)
	}
	var kinds []string
	rows, err := db.Owner.Query(ctx, `SELECT kind FROM audit_events WHERE tenant_id = $1 AND kind LIKE 'tenant.%' ORDER BY occurred_at`, w.tenantA)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	if diff := cmp.Diff([]string{postgres.AuditMemberRoleChanged, postgres.AuditMemberLeft}, kinds); diff != "" {
		t.Errorf("audit events, refused changes recording nothing (-want +got):\n%s", diff)
	}
}

// Two owners demote each other, or both leave, at the same time: exactly one change succeeds and the
// tenant keeps an owner. The test makes the race certain: an outside transaction locks both owners'
// membership rows, so each change, having checked the roles and the owner count, would wait at its UPDATE
// or DELETE; without the store's per-tenant serialisation both would count two owners and both would
// succeed once the rows were released.
func TestTenantStoreConcurrentOwnerChangesKeepAnOwner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// change is what owner by does while the other owner, other, does the same to them.
		change      func(s *postgres.TenantStore, by tenant.Actor, other string) error
		wantRefusal error
	}{
		{"demote each other", func(s *postgres.TenantStore, by tenant.Actor, other string) error {
			_, err := s.ChangeRole(context.Background(), by, other, auth.RoleAdmin)
			return err
		}, tenant.ErrOwnerOnly}, // the loser is no longer an owner
		{"both leave", func(s *postgres.TenantStore, by tenant.Actor, _ string) error {
			return s.RemoveMember(context.Background(), by, by.UserID)
		}, tenant.ErrLastOwner},
		{"both step down to member", func(s *postgres.TenantStore, by tenant.Actor, _ string) error {
			_, err := s.ChangeRole(context.Background(), by, by.UserID, auth.RoleMember)
			return err
		}, tenant.ErrLastOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.New(t)
			w := arrange(t, db.Owner)
			s := postgres.NewTenantStore(db.App)
			ctx := context.Background()
			first := actorOf(w.principalA)
			second := addTenantMember(t, db.Owner, w.tenantA, auth.RoleOwner)

			hold, err := db.Owner.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback(ctx)
			if _, err := hold.Exec(ctx, `SELECT 1 FROM memberships WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE`, w.tenantA); err != nil {
				t.Fatal(err)
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, c := range []struct {
				by    tenant.Actor
				other string
			}{{first, second.UserID}, {second, first.UserID}} {
				wg.Go(func() { errs[i] = tt.change(s, c.by, c.other) })
			}
			waitForLockWaiters(t, db, 2)
			if err := hold.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			var ok, refused int
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, tt.wantRefusal):
					refused++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != 1 || refused != 1 {
				t.Errorf("%d changes succeeded and %d were refused (%v), want 1 and 1", ok, refused, tt.wantRefusal)
			}
			if n := countOwners(t, db.Owner, w.tenantA); n != 1 {
				t.Errorf("owners after the race = %d, want 1", n)
			}
		})
	}
}

// waitForLockWaiters waits until n sessions of the application role in db wait for a lock, failing the
// test after ten seconds.
func waitForLockWaiters(t testing.TB, db *pgtest.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := db.Owner.QueryRow(context.Background(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = $1 AND usename = $2 AND wait_event_type = 'Lock'`, db.Name, pgtest.AppRole).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock after 10s, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Removing a member and changing a role end the member's live sessions in that tenant only; a removal
// also drops the member's business memberships, and both write an audit event and, for a tenant whose
// webhook endpoint receives them, an outbox event.
func TestTenantStoreMembershipChangesRevokeSessions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `UPDATE webhook_endpoints SET event_types = '{horse.created,tenant.member_role_changed,tenant.member_removed}'
WHERE tenant_id = $1`, w.tenantA); err != nil {
		t.Fatal(err)
	}

	// userA2 belongs to tenant B too; it has two live sessions in A, one ended by logout, one live in B.
	if _, err := db.Owner.Exec(ctx, `INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'member')`, w.tenantB, w.userA2); err != nil {
		t.Fatal(err)
	}
	insertSession := func(tenantID, revokedReason string) string {
		t.Helper()
		var id string
		err := db.Owner.QueryRow(ctx, `
INSERT INTO sessions (tenant_id, user_id, expires_at, revoked_at, revoked_reason)
VALUES ($1, $2, now() + interval '1 day', CASE WHEN $3 <> '' THEN now() - interval '1 hour' END, nullif($3, ''))
RETURNING id`, tenantID, w.userA2, revokedReason).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	liveA1, liveA2, loggedOut, liveB := insertSession(w.tenantA, ""), insertSession(w.tenantA, ""), insertSession(w.tenantA, "logout"), insertSession(w.tenantB, "")
	if _, err := db.Owner.Exec(ctx, `INSERT INTO business_members (tenant_id, business_id, user_id, role) VALUES ($1, $2, $3, 'staff')`, w.tenantA, w.businessA, w.userA2); err != nil {
		t.Fatal(err)
	}
	reasons := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		rows, err := db.Owner.Query(ctx, `SELECT id::text, coalesce(revoked_reason, 'live') FROM sessions WHERE user_id = $1`, w.userA2)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, reason string
			if err := rows.Scan(&id, &reason); err != nil {
				t.Fatal(err)
			}
			out[id] = reason
		}
		return out
	}

	m, err := s.ChangeRole(ctx, actorOf(w.principalA), w.userA2, auth.RoleModerator)
	if err != nil {
		t.Fatalf("ChangeRole: %v", err)
	}
	if diff := cmp.Diff(tenant.Member{UserID: w.userA2, Role: auth.RoleModerator, DisplayName: "A2"}, m, cmpopts.IgnoreFields(tenant.Member{}, "JoinedAt")); diff != "" {
		t.Errorf("ChangeRole (-want +got):\n%s", diff)
	}
	want := map[string]string{liveA1: "membership", liveA2: "membership", loggedOut: "logout", liveB: "live"}
	if diff := cmp.Diff(want, reasons()); diff != "" {
		t.Errorf("sessions after a role change (-want +got):\n%s", diff)
	}

	liveA3 := insertSession(w.tenantA, "")
	if err := s.RemoveMember(ctx, actorOf(w.principalA), w.userA2); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	want[liveA3] = "membership"
	if diff := cmp.Diff(want, reasons()); diff != "" {
		t.Errorf("sessions after the removal (-want +got):\n%s", diff)
	}
	var businessMembers, outboxEvents int
	var auditDetail string
	err = db.Owner.QueryRow(ctx, `
SELECT (SELECT count(*) FROM business_members WHERE tenant_id = $1 AND user_id = $2),
       (SELECT count(*) FROM outbox WHERE tenant_id = $1 AND queue = 'webhooks' AND kind IN ('tenant.member_role_changed', 'tenant.member_removed')
                                      AND payload->>'user_id' = $2::text),
       (SELECT detail::text FROM audit_events WHERE tenant_id = $1 AND kind = 'tenant.member_removed')`,
		w.tenantA, w.userA2).Scan(&businessMembers, &outboxEvents, &auditDetail)
	if err != nil {
		t.Fatal(err)
	}
	if businessMembers != 0 || outboxEvents != 2 {
		t.Errorf("after the removal: %d business memberships (want 0), %d outbox events (want 2)", businessMembers, outboxEvents)
	}
	if want := `{"role": "moderator", "user_id": "` + w.userA2 + `"}`; auditDetail != want {
		t.Errorf("audit detail = %s, want %s", auditDetail, want)
	}
	if got := roleOf(t, db.Owner, w.tenantB, w.userA2); got != auth.RoleMember {
		t.Errorf("membership in tenant B is now %q, want member", got)
	}
}

// A membership change writes its outbox event only when an enabled endpoint of the tenant receives it:
// tenant B's endpoint takes horse.created only, then every event ('*'), then is disabled.
func TestTenantStoreMemberEventsOnlyWhenSubscribed(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()
	m := addTenantMember(t, db.Owner, w.tenantB, auth.RoleMember)
	events := func() int {
		t.Helper()
		var n int
		if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE tenant_id = $1 AND kind = $2`,
			w.tenantB, postgres.MemberRoleChangedEvent).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	role := auth.RoleMember
	for _, step := range []struct {
		name, endpoints string
		written         bool
	}{
		{"subscribed to horse.created only", `SELECT $1::uuid`, false},
		{"subscribed to every event", `UPDATE webhook_endpoints SET event_types = '{*}' WHERE tenant_id = $1`, true},
		{"endpoint disabled", `UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = 'failing' WHERE tenant_id = $1`, false},
	} {
		if _, err := db.Owner.Exec(ctx, step.endpoints, w.tenantB); err != nil {
			t.Fatal(err)
		}
		before := events()
		role = map[string]string{auth.RoleMember: auth.RoleModerator, auth.RoleModerator: auth.RoleMember}[role]
		if _, err := s.ChangeRole(ctx, actorOf(w.principalB), m.UserID, role); err != nil {
			t.Fatalf("%s: ChangeRole: %v", step.name, err)
		}
		if got, want := events()-before, map[bool]int{true: 1, false: 0}[step.written]; got != want {
			t.Errorf("%s: %d events written, want %d", step.name, got, want)
		}
		if got := roleOf(t, db.Owner, w.tenantB, m.UserID); got != role {
			t.Errorf("%s: role %q, want %q (the change commits either way)", step.name, got, role)
		}
	}
}

func TestTenantStoreMembersPagination(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()

	// Eleven more members, all joined at the same instant: the user id orders them.
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 11 {
		m := addTenantMember(t, db.Owner, w.tenantA, auth.RoleMember)
		if _, err := db.Owner.Exec(ctx, `UPDATE memberships SET created_at = $2 WHERE user_id = $1`, m.UserID, at); err != nil {
			t.Fatal(err)
		}
	}
	want := orderedIDs(t, db.Owner, `SELECT user_id::text FROM memberships WHERE tenant_id = $1 ORDER BY created_at DESC, user_id DESC`, w.tenantA)
	names := map[string]string{}
	got := allPages(t, len(want), func(after *tenant.Position) ([]string, *tenant.Position, error) {
		page, err := s.Members(ctx, w.memberA2(), tenant.PageQuery{Limit: 5, After: after})
		if err != nil {
			return nil, nil, err
		}
		var ids []string
		for _, m := range page.Members {
			ids = append(ids, m.UserID)
			names[m.UserID] = m.DisplayName
		}
		return ids, page.Next, nil
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members across pages (-want +got):\n%s", diff)
	}
	// userA has a profile in A (Alice); userA2 has none and shows its account's name.
	if names[w.userA] != "Alice" || names[w.userA2] != "A2" {
		t.Errorf("display names: %q and %q, want Alice (profile) and A2 (account)", names[w.userA], names[w.userA2])
	}
	for _, id := range got {
		if id == w.userB {
			t.Error("tenant B's owner listed among A's members")
		}
	}
}

func TestTenantStoreInvites(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()
	admin := addTenantMember(t, db.Owner, w.tenantA, auth.RoleAdmin)
	member := actorOf(w.memberA2())

	hash := sha256.Sum256([]byte("inv_test-code"))
	inv, err := s.CreateInvite(ctx, admin, tenant.NewInvite{Role: auth.RoleAdmin, CodeHash: hash[:], TTL: 48 * time.Hour})
	if err != nil {
		t.Fatalf("CreateInvite: %v", err)
	}
	if inv.Role != auth.RoleAdmin || inv.CreatedBy == nil || *inv.CreatedBy != admin.UserID || inv.EmailRestricted {
		t.Errorf("invite = %+v, want role admin, for anyone, created by the admin", inv)
	}
	bidx := bytes.Repeat([]byte{7}, 35)
	restricted, err := s.CreateInvite(ctx, admin, tenant.NewInvite{Role: auth.RoleMember, CodeHash: make([]byte, 32), EmailIndex: bidx, TTL: time.Hour})
	if err != nil || !restricted.EmailRestricted {
		t.Fatalf("CreateInvite with an email index: %+v, %v", restricted, err)
	}
	var storedIndex []byte
	if err := db.Owner.QueryRow(ctx, `DELETE FROM tenant_invites WHERE id = $1 RETURNING email_bidx`, restricted.ID).Scan(&storedIndex); err != nil || !bytes.Equal(storedIndex, bidx) {
		t.Errorf("stored email_bidx = %x (%v), want %x", storedIndex, err, bidx)
	}
	if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != 48*time.Hour {
		t.Errorf("invite valid for %v, want 48h", d)
	}
	var stored []byte
	if err := db.Owner.QueryRow(ctx, `SELECT code_hash FROM tenant_invites WHERE id = $1`, inv.ID).Scan(&stored); err != nil || !bytes.Equal(stored, hash[:]) {
		t.Errorf("stored code_hash = %x (%v), want %x", stored, err, hash)
	}

	// An accepted, a revoked and an expired invite of A are not pending.
	for _, set := range []string{"accepted_at = now()", "revoked_at = now()", "expires_at = now() - interval '1 second'"} {
		if _, err := db.Owner.Exec(ctx, `INSERT INTO tenant_invites (tenant_id, code_hash, role, expires_at) VALUES ($1, sha256(gen_random_uuid()::text::bytea), 'member', now() + interval '1 day')`, w.tenantA); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Owner.Exec(ctx, `UPDATE tenant_invites SET `+set+` WHERE id = (SELECT id FROM tenant_invites WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1)`, w.tenantA); err != nil {
			t.Fatal(err)
		}
	}
	pending := orderedIDs(t, db.Owner, `SELECT id::text FROM tenant_invites WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id DESC`, w.tenantA)
	if len(pending) != 2 {
		t.Fatalf("%d pending invites arranged, want 2 (the world's and the new one)", len(pending))
	}
	got := allPages(t, 3, func(after *tenant.Position) ([]string, *tenant.Position, error) {
		page, err := s.Invites(ctx, admin.Principal, tenant.PageQuery{Limit: 1, After: after})
		if err != nil {
			return nil, nil, err
		}
		var ids []string
		for _, i := range page.Invites {
			ids = append(ids, i.ID)
		}
		return ids, page.Next, nil
	})
	if diff := cmp.Diff(pending, got); diff != "" {
		t.Errorf("pending invites across pages (-want +got):\n%s", diff)
	}

	// Members may neither see nor manage invites.
	if _, err := s.Invites(ctx, member.Principal, tenant.PageQuery{Limit: 10}); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("Invites by a member: err = %v, want ErrForbidden", err)
	}
	if _, err := s.CreateInvite(ctx, member, tenant.NewInvite{Role: "member", CodeHash: make([]byte, 32), TTL: time.Hour}); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("CreateInvite by a member: err = %v, want ErrForbidden", err)
	}
	if err := s.RevokeInvite(ctx, member, inv.ID); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("RevokeInvite by a member: err = %v, want ErrForbidden", err)
	}

	if err := s.RevokeInvite(ctx, admin, inv.ID); err != nil {
		t.Fatalf("RevokeInvite: %v", err)
	}
	if err := s.RevokeInvite(ctx, admin, inv.ID); err != nil {
		t.Errorf("RevokeInvite twice: %v", err)
	}
	page, err := s.Invites(ctx, admin.Principal, tenant.PageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Invites) != 1 || page.Invites[0].ID == inv.ID {
		t.Errorf("pending after the revocation = %+v, want only the world's invite", page.Invites)
	}
	var accepted string
	if err := db.Owner.QueryRow(ctx, `SELECT id::text FROM tenant_invites WHERE tenant_id = $1 AND accepted_at IS NOT NULL`, w.tenantA).Scan(&accepted); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeInvite(ctx, admin, accepted); !errors.Is(err, tenant.ErrInviteAccepted) {
		t.Errorf("revoke an accepted invite: err = %v, want ErrInviteAccepted", err)
	}
	var invites int
	if err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND kind IN ('tenant.invite_created', 'tenant.invite_revoked')`, w.tenantA).Scan(&invites); err != nil || invites != 3 {
		t.Errorf("invite audit events = %d (%v), want 3 (two created, one revoked)", invites, err)
	}
}

func TestTenantStoreIsolation(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	w := arrange(t, db.Owner)
	s := postgres.NewTenantStore(db.App)
	ctx := context.Background()
	ownerA := actorOf(w.principalA)

	var inviteB string
	if err := db.Owner.QueryRow(ctx, `SELECT id::text FROM tenant_invites WHERE tenant_id = $1`, w.tenantB).Scan(&inviteB); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeRole(ctx, ownerA, w.userB, auth.RoleMember); !errors.Is(err, tenant.ErrMemberNotFound) {
		t.Errorf("ChangeRole of B's owner: err = %v, want ErrMemberNotFound", err)
	}
	if err := s.RemoveMember(ctx, ownerA, w.userB); !errors.Is(err, tenant.ErrMemberNotFound) {
		t.Errorf("RemoveMember of B's owner: err = %v, want ErrMemberNotFound", err)
	}
	if err := s.RevokeInvite(ctx, ownerA, inviteB); !errors.Is(err, tenant.ErrInviteNotFound) {
		t.Errorf("RevokeInvite of B's invite: err = %v, want ErrInviteNotFound", err)
	}
	page, err := s.Invites(ctx, ownerA.Principal, tenant.PageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range page.Invites {
		if inv.ID == inviteB {
			t.Error("A's invites list B's")
		}
	}
	got, err := s.Get(ctx, w.principalA)
	if err != nil || got.MemberCount != 2 {
		t.Errorf("A's member count = %d (%v), want 2", got.MemberCount, err)
	}
	var revoked bool
	if err := db.Owner.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM tenant_invites WHERE id = $1`, inviteB).Scan(&revoked); err != nil || revoked {
		t.Errorf("B's invite revoked: %v (%v)", revoked, err)
	}
	if role := roleOf(t, db.Owner, w.tenantB, w.userB); role != auth.RoleOwner {
		t.Errorf("B's owner is now %q", role)
	}
}
