package horse_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/httpapi"
)

func ptr[T any](v T) *T { return &v }

func TestCreateRequestValidate(t *testing.T) {
	t.Parallel()
	thisYear := time.Now().Year()
	tests := []struct {
		name string
		in   horse.CreateRequest
		want []httpapi.FieldProblem
	}{
		{"minimal", horse.CreateRequest{Name: "Comet"}, nil},
		{"everything", horse.CreateRequest{
			Name: "Comet", Breed: ptr("Arabian"), Sex: "gelding", Color: ptr("grey"), BirthYear: ptr(thisYear),
			Discipline: ptr("endurance"), Description: ptr("fast"),
			OwnerUserID: ptr("a0000000-0000-4000-8000-000000000001"), OwnerBusinessID: ptr("A2000000-0000-4000-8000-000000000001"),
		}, nil},
		{"name missing", horse.CreateRequest{}, []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"name blank", horse.CreateRequest{Name: "  \t"}, []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"name 100 runes", horse.CreateRequest{Name: strings.Repeat("é", 100)}, nil},
		{"name 101 runes", horse.CreateRequest{Name: strings.Repeat("é", 101)},
			[]httpapi.FieldProblem{{Field: "name", Reason: "must be at most 100 characters"}}},
		{"bad sex", horse.CreateRequest{Name: "X", Sex: "colt"},
			[]httpapi.FieldProblem{{Field: "sex", Reason: "must be one of mare, stallion, gelding, unknown"}}},
		{"born 1979", horse.CreateRequest{Name: "X", BirthYear: ptr(1979)},
			[]httpapi.FieldProblem{{Field: "birth_year", Reason: "must be a year from 1980 to " + strconv.Itoa(thisYear)}}},
		{"born next year", horse.CreateRequest{Name: "X", BirthYear: ptr(thisYear + 1)},
			[]httpapi.FieldProblem{{Field: "birth_year", Reason: "must be a year from 1980 to " + strconv.Itoa(thisYear)}}},
		{"born 1980", horse.CreateRequest{Name: "X", BirthYear: ptr(1980)}, nil},
		{"long description", horse.CreateRequest{Name: "X", Description: ptr(strings.Repeat("a", 10001))},
			[]httpapi.FieldProblem{{Field: "description", Reason: "must be at most 10000 characters"}}},
		{"owners not UUIDs", horse.CreateRequest{Name: "X", OwnerUserID: ptr("me"), OwnerBusinessID: ptr("")},
			[]httpapi.FieldProblem{{Field: "owner_user_id", Reason: "must be a UUID"}, {Field: "owner_business_id", Reason: "must be a UUID"}}},
		{"several problems at once", horse.CreateRequest{Sex: "x", Color: ptr(strings.Repeat("c", 101))},
			[]httpapi.FieldProblem{{Field: "name", Reason: "is required"}, {Field: "sex", Reason: "must be one of mare, stallion, gelding, unknown"},
				{Field: "color", Reason: "must be at most 100 characters"}}},
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

func TestCreateRequestValidateNormalises(t *testing.T) {
	t.Parallel()
	in := horse.CreateRequest{Name: "  Comet ", OwnerBusinessID: ptr("A2000000-0000-4000-8000-00000000000F")}
	if p := in.Validate(); p != nil {
		t.Fatalf("Validate: %v", p)
	}
	if in.Name != "Comet" || *in.OwnerBusinessID != "a2000000-0000-4000-8000-00000000000f" {
		t.Errorf("normalised to name %q, owner_business_id %q", in.Name, *in.OwnerBusinessID)
	}
}

func TestUpdateRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   horse.UpdateRequest
		want []httpapi.FieldProblem
	}{
		{"empty patch", horse.UpdateRequest{}, []httpapi.FieldProblem{{Field: "body", Reason: "must set at least one field"}}},
		{"rename", horse.UpdateRequest{Name: ptr("Comet")}, nil},
		{"blank name", horse.UpdateRequest{Name: ptr(" ")}, []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}},
		{"clear breed and owners", horse.UpdateRequest{Breed: ptr(""), OwnerUserID: ptr(""), OwnerBusinessID: ptr("")}, nil},
		{"bad sex", horse.UpdateRequest{Sex: ptr("")}, []httpapi.FieldProblem{{Field: "sex", Reason: "must be one of mare, stallion, gelding, unknown"}}},
		{"bad owner", horse.UpdateRequest{OwnerUserID: ptr("nope")}, []httpapi.FieldProblem{{Field: "owner_user_id", Reason: "must be a UUID"}}},
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

func TestProjection(t *testing.T) {
	t.Parallel()
	h := horse.Horse{ID: "h1", Name: "Comet", Sex: "mare", BirthYear: ptr(2015)}
	ph := horse.Projection([]string{"name", "id", "breed", "birth_year"}).Of(h)
	got, err := ph.AppendJSON(nil)
	if want := `{"birth_year":2015,"breed":null,"id":"h1","name":"Comet"}`; err != nil || string(got) != want {
		t.Errorf("projection = %s, %v; want %s", got, err, want)
	}
	if diff := cmp.Diff([]string{"id", "name", "breed", "sex", "color", "birth_year", "discipline", "description",
		"owner_user_id", "owner_business_id", "created_by", "created_at", "updated_at"}, horse.Fields()); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
}
