package profile_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/profile"
)

func ptr[T any](v T) *T { return &v }

func TestUpdateRequestValidate(t *testing.T) {
	t.Parallel()
	const urlReason = "must be an absolute http or https URL"
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
