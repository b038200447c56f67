package catalog_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
)

func TestProfilesEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.Profiles)

	type profileBody struct {
		ID          string  `json:"id"`
		UserID      string  `json:"user_id"`
		DisplayName string  `json:"display_name"`
		Bio         *string `json:"bio"`
		Location    *string `json:"location"`
	}

	res := f.do(t, f.memberA, "GET", "/me", "")
	if res.Status != http.StatusOK {
		t.Fatalf("GET /me: status %d: %s", res.Status, res.Body)
	}
	var me profileBody
	res.JSON(t, &me)
	if me.UserID != f.memberA.userID || me.DisplayName != "tenant-a member" {
		t.Errorf("GET /me = %+v, want the member's new profile named after the user", me)
	}

	res = f.do(t, f.memberA, "PATCH", "/me", `{"bio":"Eventing rider","location":"Lund"}`)
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH /me: status %d: %s", res.Status, res.Body)
	}
	var patched profileBody
	res.JSON(t, &patched)
	bio, loc := "Eventing rider", "Lund"
	want := profileBody{ID: me.ID, UserID: me.UserID, DisplayName: me.DisplayName, Bio: &bio, Location: &loc}
	if diff := cmp.Diff(want, patched); diff != "" {
		t.Errorf("PATCH /me (-want +got):\n%s", diff)
	}

	p := f.do(t, f.memberA, "PATCH", "/me", `{"phone":"+46700000000"}`).Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"phone"}, fieldsOf(p)); diff != "" {
		t.Errorf("PII field problems (-want +got):\n%s", diff)
	}
	f.do(t, f.memberA, "PATCH", "/me", `{}`).Problem(t, http.StatusBadRequest)
	p = f.do(t, f.memberA, "PATCH", "/me", `{"display_name":"","avatar_url":"javascript:x"}`).Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"display_name", "avatar_url"}, fieldsOf(p)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// Another member of A reads it; tenant B cannot.
	res = f.do(t, f.ownerA, "GET", "/profiles/"+me.ID, "")
	var read profileBody
	res.JSON(t, &read)
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("GET /profiles/{id} (-want +got):\n%s", diff)
	}
	f.do(t, f.ownerB, "GET", "/profiles/"+me.ID, "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerA, "GET", "/profiles/me", "").Problem(t, http.StatusNotFound)
	f.do(t, caller{}, "GET", "/me", "").Problem(t, http.StatusUnauthorized)
}
