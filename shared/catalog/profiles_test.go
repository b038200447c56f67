package catalog_test

import (
	"bytes"
	"context"
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

	f.do(t, f.memberA, "PATCH", "/me", `{}`).Problem(t, http.StatusBadRequest)
	p := f.do(t, f.memberA, "PATCH", "/me", `{"display_name":"","avatar_url":"javascript:x"}`).Problem(t, http.StatusBadRequest)
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

// The personal fields: set and read back by their owner through /me, stored sealed, never shown by
// GET /profiles/{id}, to another member or to the owner.
func TestProfilesPersonalFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.Profiles)
	type address struct {
		Line1      string `json:"line1"`
		PostalCode string `json:"postal_code"`
		City       string `json:"city"`
		Country    string `json:"country"`
	}
	type ownBody struct {
		ID          string   `json:"id"`
		Phone       *string  `json:"phone"`
		DateOfBirth *string  `json:"date_of_birth"`
		Address     *address `json:"address"`
	}

	var before ownBody
	f.do(t, f.memberA, "GET", "/me", "").JSON(t, &before)
	if before.Phone != nil || before.DateOfBirth != nil || before.Address != nil {
		t.Errorf("a new profile has personal fields: %+v", before)
	}

	res := f.do(t, f.memberA, "PATCH", "/me",
		`{"phone":"+46 70-123 45 67","date_of_birth":"1990-04-01","address":{"line1":"Storgatan 1","postal_code":"222 22","city":"Lund","country":"se"}}`)
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH /me: status %d: %s", res.Status, res.Body)
	}
	phone, dob := "+46701234567", "1990-04-01"
	want := ownBody{ID: before.ID, Phone: &phone, DateOfBirth: &dob, Address: &address{Line1: "Storgatan 1", PostalCode: "222 22", City: "Lund", Country: "SE"}}
	var patched, me ownBody
	res.JSON(t, &patched)
	if diff := cmp.Diff(want, patched); diff != "" {
		t.Errorf("PATCH /me (-want +got):\n%s", diff)
	}
	f.do(t, f.memberA, "GET", "/me", "").JSON(t, &me)
	if diff := cmp.Diff(want, me); diff != "" {
		t.Errorf("GET /me (-want +got):\n%s", diff)
	}

	// In the database: ciphertext only.
	var phoneEnc, dobEnc, addrEnc []byte
	err := f.env.DB.Owner.QueryRow(context.Background(),
		`SELECT phone_enc, date_of_birth_enc, address_enc FROM profiles WHERE id = $1`, before.ID).Scan(&phoneEnc, &dobEnc, &addrEnc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ plaintext, ciphertext []byte }{
		{[]byte("46701234567"), phoneEnc}, {[]byte("1990-04-01"), dobEnc}, {[]byte("Storgatan"), addrEnc},
	} {
		if len(c.ciphertext) == 0 || bytes.Contains(c.ciphertext, c.plaintext) {
			t.Errorf("column holds %q, want ciphertext without %q", c.ciphertext, c.plaintext)
		}
	}

	// GET /profiles/{id}: no personal field at all, whoever asks.
	for name, c := range map[string]caller{"another member": f.ownerA, "the owner": f.memberA} {
		res := f.do(t, c, "GET", "/profiles/"+before.ID, "")
		var fields map[string]any
		res.JSON(t, &fields)
		for _, k := range []string{"phone", "date_of_birth", "address"} {
			if _, ok := fields[k]; ok {
				t.Errorf("GET /profiles/{id} by %s shows %s: %s", name, k, res.Body)
			}
		}
	}

	// Bad values are field problems; "" and {} clear.
	p := f.do(t, f.memberA, "PATCH", "/me", `{"phone":"0701234567","date_of_birth":"2999-01-01","address":{"line1":"x","country":"Sweden"}}`).
		Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"phone", "date_of_birth", "address.city", "address.country"}, fieldsOf(p)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	f.do(t, f.memberA, "PATCH", "/me", `{"address":{"line1":"x","city":"y","country":"SE","floor":3}}`).Problem(t, http.StatusBadRequest)
	var cleared ownBody
	f.do(t, f.memberA, "PATCH", "/me", `{"phone":"","date_of_birth":"","address":{}}`).JSON(t, &cleared)
	if diff := cmp.Diff(ownBody{ID: before.ID}, cleared); diff != "" {
		t.Errorf("cleared (-want +got):\n%s", diff)
	}
}
