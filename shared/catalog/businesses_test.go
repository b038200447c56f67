package catalog_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
)

func TestBusinessesEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.Businesses)

	type businessBody struct {
		ID        string  `json:"id"`
		Name      string  `json:"name"`
		Kind      string  `json:"kind"`
		City      *string `json:"city"`
		Website   *string `json:"website"`
		CreatedBy *string `json:"created_by"`
	}
	type memberBody struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
	}
	type membersPage struct {
		Items      []memberBody `json:"items"`
		NextCursor string       `json:"next_cursor"`
	}

	res := f.do(t, f.memberA, "POST", "/businesses", `{"name":"Oak Farm","kind":"stable","city":"Uppsala","website":"https://oak.example"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.Status, res.Body)
	}
	var oak businessBody
	res.JSON(t, &oak)
	path := "/businesses/" + oak.ID
	if got := res.Header.Get("Location"); got != path {
		t.Errorf("Location = %q, want %q", got, path)
	}
	if oak.CreatedBy == nil || *oak.CreatedBy != f.memberA.userID {
		t.Errorf("created_by = %v, want the caller", oak.CreatedBy)
	}

	p := f.do(t, f.memberA, "POST", "/businesses", `{"name":"","kind":"castle","website":"ftp://x"}`).Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"name", "kind", "website"}, fieldsOf(p)); diff != "" {
		t.Errorf("create problems (-want +got):\n%s", diff)
	}

	// The creator is the owner member; the tenant owner adds a staff member.
	res = f.do(t, f.ownerA, "GET", path+"/members", "")
	var members membersPage
	res.JSON(t, &members)
	if diff := cmp.Diff(membersPage{Items: []memberBody{{UserID: f.memberA.userID, Role: "owner"}}}, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	res = f.do(t, f.memberA, "POST", path+"/members", `{"user_id":"`+f.ownerA.userID+`","role":"staff"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("add member: status %d: %s", res.Status, res.Body)
	}
	if got, want := res.Header.Get("Location"), path+"/members/"+f.ownerA.userID; got != want {
		t.Errorf("member Location = %q, want %q", got, want)
	}
	f.do(t, f.memberA, "POST", path+"/members", `{"user_id":"`+f.ownerA.userID+`","role":"manager"}`).Problem(t, http.StatusConflict)
	p = f.do(t, f.memberA, "POST", path+"/members", `{"user_id":"`+f.ownerB.userID+`","role":"staff"}`).Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"user_id"}, fieldsOf(p)); diff != "" {
		t.Errorf("foreign member problems (-want +got):\n%s", diff)
	}
	f.do(t, f.memberA, "POST", path+"/members", `{"user_id":"x","role":"boss"}`).Problem(t, http.StatusBadRequest)

	// Tenant B sees nothing of it.
	f.do(t, f.ownerB, "GET", path, "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerB, "GET", path+"/members", "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerB, "PATCH", path, `{"name":"Mine"}`).Problem(t, http.StatusNotFound)
	f.do(t, f.ownerB, "DELETE", path+"/members/"+f.memberA.userID, "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerA, "GET", "/businesses/oak", "").Problem(t, http.StatusNotFound)
	f.do(t, f.ownerA, "DELETE", path+"/members/nobody", "").Problem(t, http.StatusNotFound)

	// A business created by the tenant owner is not the member's to change.
	res = f.do(t, f.ownerA, "POST", "/businesses", `{"name":"Owner Vets","kind":"vet"}`)
	var vets businessBody
	res.JSON(t, &vets)
	f.do(t, f.memberA, "PATCH", "/businesses/"+vets.ID, `{"city":"Lund"}`).Problem(t, http.StatusForbidden)
	f.do(t, f.memberA, "DELETE", "/businesses/"+vets.ID, "").Problem(t, http.StatusForbidden)
	f.do(t, f.memberA, "POST", "/businesses/"+vets.ID+"/members", `{"user_id":"`+f.memberA.userID+`","role":"owner"}`).Problem(t, http.StatusForbidden)

	res = f.do(t, f.memberA, "PATCH", path, `{"city":"","kind":"trainer"}`)
	if res.Status != http.StatusOK {
		t.Fatalf("patch: status %d: %s", res.Status, res.Body)
	}
	var patched businessBody
	res.JSON(t, &patched)
	if patched.City != nil || patched.Kind != "trainer" || patched.Name != "Oak Farm" {
		t.Errorf("patched = %+v", patched)
	}
	f.do(t, f.memberA, "PATCH", path, `{}`).Problem(t, http.StatusBadRequest)

	// Listing with a filter and a projection.
	res = f.do(t, f.memberA, "GET", "/businesses?kind=trainer&fields=name,kind", "")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	res.JSON(t, &list)
	if diff := cmp.Diff([]map[string]any{{"id": oak.ID, "name": "Oak Farm", "kind": "trainer"}}, list.Items); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	p = f.do(t, f.memberA, "GET", "/businesses?kind=castle", "").Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"kind"}, fieldsOf(p)); diff != "" {
		t.Errorf("list problems (-want +got):\n%s", diff)
	}

	// The tenant owner drops its staff membership; the creator deletes the business.
	if res := f.do(t, f.ownerA, "DELETE", path+"/members/"+f.ownerA.userID, ""); res.Status != http.StatusNoContent {
		t.Errorf("leave: status %d: %s", res.Status, res.Body)
	}
	f.do(t, f.ownerA, "DELETE", path+"/members/"+f.ownerA.userID, "").Problem(t, http.StatusNotFound)
	if res := f.do(t, f.memberA, "DELETE", path, ""); res.Status != http.StatusNoContent {
		t.Errorf("delete: status %d: %s", res.Status, res.Body)
	}
	f.do(t, f.memberA, "GET", path, "").Problem(t, http.StatusNotFound)
}
