package profile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/profile"
)

func ptr[T any](v T) *T { return &v }

func TestUpdateRequestValidate(t *testing.T) {
	t.Parallel()
	const (
		urlReason   = "must be an absolute http or https URL"
		phoneReason = "must be an international number such as +46 70 123 45 67"
		dateReason  = "must be a date in the form YYYY-MM-DD"
		rangeReason = "must be from 1900-01-01 to today"
	)
	tests := []struct {
		name string
		in   profile.UpdateRequest
		want []httpapi.FieldProblem
	}{
		{"empty patch", profile.UpdateRequest{}, []httpapi.FieldProblem{{Field: "body", Reason: "must set at least one field"}}},
		{"everything", profile.UpdateRequest{DisplayName: ptr("Ann"), Bio: ptr("Rider"), AvatarURL: ptr("https://img.example/a.png"), Location: ptr("Lund")}, nil},
		{"clear optional fields", profile.UpdateRequest{Bio: ptr(""), AvatarURL: ptr(""), Location: ptr("")}, nil},
		{"blank display name", profile.UpdateRequest{DisplayName: ptr("   ")}, []httpapi.FieldProblem{{Field: "display_name", Reason: "must not be empty"}}},
		{"long display name", profile.UpdateRequest{DisplayName: ptr(strings.Repeat("ö", 201))},
			[]httpapi.FieldProblem{{Field: "display_name", Reason: "must be at most 200 characters"}}},
		{"long bio", profile.UpdateRequest{Bio: ptr(strings.Repeat("b", 5001))}, []httpapi.FieldProblem{{Field: "bio", Reason: "must be at most 5000 characters"}}},
		{"data URL avatar", profile.UpdateRequest{AvatarURL: ptr("data:image/png;base64,AAAA")}, []httpapi.FieldProblem{{Field: "avatar_url", Reason: urlReason}}},
		{"relative avatar", profile.UpdateRequest{AvatarURL: ptr("/a.png")}, []httpapi.FieldProblem{{Field: "avatar_url", Reason: urlReason}}},
		{"long location", profile.UpdateRequest{Location: ptr(strings.Repeat("l", 201))}, []httpapi.FieldProblem{{Field: "location", Reason: "must be at most 200 characters"}}},
		{"personal fields", profile.UpdateRequest{Phone: ptr("+1 (415) 555-0100"), DateOfBirth: ptr("1900-01-01"), Address: &profile.Address{Line1: "1 Main St", City: "Springfield", Country: "us"}}, nil},
		{"clear personal fields", profile.UpdateRequest{Phone: ptr(""), DateOfBirth: ptr(""), Address: &profile.Address{}}, nil},
		{"phone without country code", profile.UpdateRequest{Phone: ptr("070-123 45 67")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"phone with letters", profile.UpdateRequest{Phone: ptr("+46 70 CALL ME")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"phone too short", profile.UpdateRequest{Phone: ptr("+46 70 1")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"phone too long", profile.UpdateRequest{Phone: ptr("+46 70123456789012")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"phone country code 0", profile.UpdateRequest{Phone: ptr("+0701234567")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"phone with two plus signs", profile.UpdateRequest{Phone: ptr("+46+701234567")}, []httpapi.FieldProblem{{Field: "phone", Reason: phoneReason}}},
		{"date not ISO", profile.UpdateRequest{DateOfBirth: ptr("01/04/1990")}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: dateReason}}},
		{"date without zero padding", profile.UpdateRequest{DateOfBirth: ptr("1990-4-1")}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: dateReason}}},
		{"no such day", profile.UpdateRequest{DateOfBirth: ptr("1990-02-30")}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: dateReason}}},
		{"date with a time", profile.UpdateRequest{DateOfBirth: ptr("1990-04-01T00:00:00Z")}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: dateReason}}},
		{"born before 1900", profile.UpdateRequest{DateOfBirth: ptr("1899-12-31")}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: rangeReason}}},
		{"born tomorrow", profile.UpdateRequest{DateOfBirth: ptr(time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly))}, []httpapi.FieldProblem{{Field: "date_of_birth", Reason: rangeReason}}},
		{"address without its required fields", profile.UpdateRequest{Address: &profile.Address{Line2: "c/o Ann"}}, []httpapi.FieldProblem{
			{Field: "address.line1", Reason: "must not be empty"}, {Field: "address.city", Reason: "must not be empty"},
			{Field: "address.country", Reason: "must be an ISO 3166-1 alpha-2 country code such as SE"}}},
		{"address too long", profile.UpdateRequest{Address: &profile.Address{Line1: strings.Repeat("l", 201), PostalCode: strings.Repeat("1", 21), City: "Lund", Country: "SE"}}, []httpapi.FieldProblem{
			{Field: "address.line1", Reason: "must be at most 200 characters"}, {Field: "address.postal_code", Reason: "must be at most 20 characters"}}},
		{"country name", profile.UpdateRequest{Address: &profile.Address{Line1: "x", City: "y", Country: "Sweden"}}, []httpapi.FieldProblem{
			{Field: "address.country", Reason: "must be an ISO 3166-1 alpha-2 country code such as SE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.in.Validate()); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateRequestValidateTrimsDisplayName(t *testing.T) {
	t.Parallel()
	u := profile.UpdateRequest{DisplayName: ptr("  Ann ")}
	if p := u.Validate(); p != nil {
		t.Fatal(p)
	}
	if *u.DisplayName != "Ann" {
		t.Errorf("display_name = %q, want Ann", *u.DisplayName)
	}
}

func TestUpdateRequestValidateNormalisesPersonalFields(t *testing.T) {
	t.Parallel()
	u := profile.UpdateRequest{Phone: ptr(" +46 (0)70-123.45.67 "), Address: &profile.Address{Line1: " Storgatan 1 ", City: "Lund ", Country: " se", Region: "  "}}
	if p := u.Validate(); p != nil {
		t.Fatal(p)
	}
	if *u.Phone != "+460701234567" {
		t.Errorf("phone = %q, want +460701234567", *u.Phone)
	}
	want := profile.Address{Line1: "Storgatan 1", City: "Lund", Country: "SE"}
	if diff := cmp.Diff(want, *u.Address); diff != "" {
		t.Errorf("address (-want +got):\n%s", diff)
	}
	blank := profile.UpdateRequest{Address: &profile.Address{Line1: "  ", Country: " "}}
	if p := blank.Validate(); p != nil || !blank.Address.IsZero() {
		t.Errorf("an address of blanks: %v, %+v; want it cleared", p, *blank.Address)
	}
}
