package business_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/business"
	"github.com/rocker-app/corral/shared/httpapi"
)

func ptr[T any](v T) *T { return &v }

const (
	kindReason    = "must be one of stable, trainer, vet, farrier, shop, other"
	websiteReason = "must be an absolute http or https URL"
)

func TestCreateRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   business.CreateRequest
		want []httpapi.FieldProblem
	}{
		{"minimal", business.CreateRequest{Name: "Oak Farm", Kind: "stable"}, nil},
		{"https website", business.CreateRequest{Name: "Oak", Kind: "vet", Website: ptr("https://oak.example/about?x=1")}, nil},
		{"http website, upper-case scheme", business.CreateRequest{Name: "Oak", Kind: "vet", Website: ptr("HTTP://oak.example")}, nil},
		{"empty website", business.CreateRequest{Name: "Oak", Kind: "vet", Website: ptr("")}, nil},
		{"missing name and kind", business.CreateRequest{},
			[]httpapi.FieldProblem{{Field: "name", Reason: "is required"}, {Field: "kind", Reason: kindReason}}},
		{"unknown kind", business.CreateRequest{Name: "Oak", Kind: "Stable"}, []httpapi.FieldProblem{{Field: "kind", Reason: kindReason}}},
		{"name too long", business.CreateRequest{Name: strings.Repeat("n", 201), Kind: "shop"},
			[]httpapi.FieldProblem{{Field: "name", Reason: "must be at most 200 characters"}}},
		{"city too long", business.CreateRequest{Name: "Oak", Kind: "shop", City: ptr(strings.Repeat("c", 201))},
			[]httpapi.FieldProblem{{Field: "city", Reason: "must be at most 200 characters"}}},
		{"ftp website", business.CreateRequest{Name: "Oak", Kind: "shop", Website: ptr("ftp://oak.example")},
			[]httpapi.FieldProblem{{Field: "website", Reason: websiteReason}}},
		{"javascript website", business.CreateRequest{Name: "Oak", Kind: "shop", Website: ptr("javascript:alert(1)")},
			[]httpapi.FieldProblem{{Field: "website", Reason: websiteReason}}},
		{"relative website", business.CreateRequest{Name: "Oak", Kind: "shop", Website: ptr("oak.example")},
			[]httpapi.FieldProblem{{Field: "website", Reason: websiteReason}}},
		{"website with credentials", business.CreateRequest{Name: "Oak", Kind: "shop", Website: ptr("https://u:p@oak.example")},
			[]httpapi.FieldProblem{{Field: "website", Reason: websiteReason}}},
		{"website too long", business.CreateRequest{Name: "Oak", Kind: "shop", Website: ptr("https://oak.example/" + strings.Repeat("a", 2048))},
			[]httpapi.FieldProblem{{Field: "website", Reason: "must be at most 2048 characters"}}},
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

func TestUpdateRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   business.UpdateRequest
		want []httpapi.FieldProblem
	}{
		{"empty patch", business.UpdateRequest{}, []httpapi.FieldProblem{{Field: "body", Reason: "must set at least one field"}}},
		{"clear optional fields", business.UpdateRequest{Description: ptr(""), City: ptr(""), Website: ptr("")}, nil},
		{"blank name", business.UpdateRequest{Name: ptr("")}, []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"bad kind", business.UpdateRequest{Kind: ptr("")}, []httpapi.FieldProblem{{Field: "kind", Reason: kindReason}}},
		{"bad website", business.UpdateRequest{Website: ptr("mailto:a@b.c")}, []httpapi.FieldProblem{{Field: "website", Reason: websiteReason}}},
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

func TestAddMemberRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   business.AddMemberRequest
		want []httpapi.FieldProblem
	}{
		{"manager", business.AddMemberRequest{UserID: "a0000000-0000-4000-8000-000000000001", Role: "manager"}, nil},
		{"nothing", business.AddMemberRequest{}, []httpapi.FieldProblem{
			{Field: "user_id", Reason: "must be a UUID"}, {Field: "role", Reason: "must be one of owner, manager, staff"}}},
		{"tenant role", business.AddMemberRequest{UserID: "a0000000-0000-4000-8000-000000000001", Role: "admin"},
			[]httpapi.FieldProblem{{Field: "role", Reason: "must be one of owner, manager, staff"}}},
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
