package business

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of the request fields, in characters.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 10000
	MaxCityLen        = 200
	MaxWebsiteLen     = 2048
)

// CreateRequest is the body of POST /businesses.
type CreateRequest struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	Description *string `json:"description"`
	City        *string `json:"city"`
	Website     *string `json:"website"`
}

// Validate implements httpapi.Validator.
func (c *CreateRequest) Validate() []httpapi.FieldProblem {
	var v validation
	v.name(&c.Name)
	v.kind(c.Kind)
	v.text("description", c.Description, MaxDescriptionLen)
	v.text("city", c.City, MaxCityLen)
	if c.Website != nil && *c.Website != "" {
		v.website(*c.Website)
	}
	return v.problems
}

// UpdateRequest is the body of PATCH /businesses/{id}. An absent (or null) field is left unchanged; an empty
// string clears description, city or website. At least one field must be present.
type UpdateRequest struct {
	Name        *string `json:"name"`
	Kind        *string `json:"kind"`
	Description *string `json:"description"`
	City        *string `json:"city"`
	Website     *string `json:"website"`
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
	if u.Kind != nil {
		v.kind(*u.Kind)
	}
	v.text("description", u.Description, MaxDescriptionLen)
	v.text("city", u.City, MaxCityLen)
	if u.Website != nil && *u.Website != "" {
		v.website(*u.Website)
	}
	return v.problems
}

// AddMemberRequest is the body of POST /businesses/{id}/members.
type AddMemberRequest struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

// Validate implements httpapi.Validator. Whether the user belongs to the tenant is the store's check.
func (a *AddMemberRequest) Validate() []httpapi.FieldProblem {
	var v validation
	if id, err := uuid.Parse(a.UserID); err != nil || len(a.UserID) != 36 {
		v.add("user_id", "must be a UUID")
	} else {
		a.UserID = id.String()
	}
	if !slices.Contains(Roles(), a.Role) {
		v.add("role", "must be one of "+strings.Join(Roles(), ", "))
	}
	return v.problems
}

// validation collects field problems, normalising values it accepts (trimmed names).
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

func (v *validation) kind(k string) {
	if !slices.Contains(Kinds(), k) {
		v.add("kind", "must be one of "+strings.Join(Kinds(), ", "))
	}
}

func (v *validation) text(field string, s *string, max int) {
	if s != nil && utf8.RuneCountInString(*s) > max {
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (v *validation) website(s string) {
	if len(s) > MaxWebsiteLen {
		v.add("website", "must be at most "+strconv.Itoa(MaxWebsiteLen)+" characters")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		v.add("website", "must be an absolute http or https URL")
	}
}
