package horse

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of the request fields, in characters.
const (
	MaxNameLen        = 100
	MaxBreedLen       = 200
	MaxColorLen       = 100
	MaxDisciplineLen  = 200
	MaxDescriptionLen = 10000
	MinBirthYear      = 1980
)

// Sexes lists the values of sex.
func Sexes() []string { return []string{"mare", "stallion", "gelding", "unknown"} }

// CreateRequest is the body of POST /horses. Sex defaults to "unknown". When neither owner is given, the
// caller becomes the owner.
type CreateRequest struct {
	Name            string  `json:"name"`
	Breed           *string `json:"breed"`
	Sex             string  `json:"sex"`
	Color           *string `json:"color"`
	BirthYear       *int    `json:"birth_year"`
	Discipline      *string `json:"discipline"`
	Description     *string `json:"description"`
	OwnerUserID     *string `json:"owner_user_id"`
	OwnerBusinessID *string `json:"owner_business_id"`

	// ID is the new horse's id, chosen by the handler (so that its Location is known before the write);
	// never read from the body. Empty: the store chooses.
	ID string `json:"-"`
}

// Validate implements httpapi.Validator. It checks shape only; whether the owners exist is the store's
// business.
func (c *CreateRequest) Validate() []httpapi.FieldProblem {
	var v validation
	v.name(&c.Name)
	v.text("breed", c.Breed, MaxBreedLen)
	if c.Sex != "" {
		v.sex(&c.Sex)
	}
	v.text("color", c.Color, MaxColorLen)
	v.birthYear(c.BirthYear)
	v.text("discipline", c.Discipline, MaxDisciplineLen)
	v.text("description", c.Description, MaxDescriptionLen)
	v.uuid("owner_user_id", c.OwnerUserID)
	v.uuid("owner_business_id", c.OwnerBusinessID)
	return v.problems
}

// UpdateRequest is the body of PATCH /horses/{id}. An absent (or null) field is left unchanged; an empty
// string clears an optional text field or owner. At least one field must be present.
type UpdateRequest struct {
	Name            *string `json:"name"`
	Breed           *string `json:"breed"`
	Sex             *string `json:"sex"`
	Color           *string `json:"color"`
	BirthYear       *int    `json:"birth_year"`
	Discipline      *string `json:"discipline"`
	Description     *string `json:"description"`
	OwnerUserID     *string `json:"owner_user_id"`
	OwnerBusinessID *string `json:"owner_business_id"`
}

// Validate implements httpapi.Validator; an empty patch is a problem of its own.
func (u *UpdateRequest) Validate() []httpapi.FieldProblem {
	if *u == (UpdateRequest{}) {
		return []httpapi.FieldProblem{{Field: "body", Reason: "must set at least one field"}}
	}
	var v validation
	if u.Name != nil {
		v.name(u.Name)
	}
	v.text("breed", u.Breed, MaxBreedLen)
	if u.Sex != nil {
		v.sex(u.Sex)
	}
	v.text("color", u.Color, MaxColorLen)
	v.birthYear(u.BirthYear)
	v.text("discipline", u.Discipline, MaxDisciplineLen)
	v.text("description", u.Description, MaxDescriptionLen)
	if u.OwnerUserID != nil && *u.OwnerUserID != "" {
		v.uuid("owner_user_id", u.OwnerUserID)
	}
	if u.OwnerBusinessID != nil && *u.OwnerBusinessID != "" {
		v.uuid("owner_business_id", u.OwnerBusinessID)
	}
	return v.problems
}

// validation collects field problems, normalising values it accepts (trimmed names, canonical UUIDs).
type validation struct {
	problems []httpapi.FieldProblem
}

func (v *validation) add(field, reason string) {
	v.problems = append(v.problems, httpapi.FieldProblem{Field: field, Reason: reason})
}

func (v *validation) name(s *string) {
	*s = strings.TrimSpace(*s)
	switch n := utf8.RuneCountInString(*s); {
	case n == 0:
		v.add("name", "is required")
	case n > MaxNameLen:
		v.add("name", "must be at most "+strconv.Itoa(MaxNameLen)+" characters")
	}
}

func (v *validation) text(field string, s *string, max int) {
	if s != nil && utf8.RuneCountInString(*s) > max {
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (v *validation) sex(s *string) {
	for _, ok := range Sexes() {
		if *s == ok {
			return
		}
	}
	v.add("sex", "must be one of "+strings.Join(Sexes(), ", "))
}

func (v *validation) birthYear(y *int) {
	if y == nil {
		return
	}
	if now := time.Now().Year(); *y < MinBirthYear || *y > now {
		v.add("birth_year", "must be a year from "+strconv.Itoa(MinBirthYear)+" to "+strconv.Itoa(now))
	}
}

func (v *validation) uuid(field string, s *string) {
	if s == nil {
		return
	}
	id, err := uuid.Parse(*s)
	if err != nil || len(*s) != 36 {
		v.add(field, "must be a UUID")
		return
	}
	*s = id.String()
}
