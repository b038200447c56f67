package profile

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of the request fields, in characters.
const (
	MaxDisplayNameLen = 200
	MaxBioLen         = 5000
	MaxAvatarURLLen   = 2048
	MaxLocationLen    = 200
)

// UpdateRequest is the body of PATCH /me. An absent (or null) field is left unchanged; an empty string
// clears bio, avatar_url or location. display_name cannot be cleared. At least one field must be present.
type UpdateRequest struct {
	DisplayName *string `json:"display_name"`
	Bio         *string `json:"bio"`
	AvatarURL   *string `json:"avatar_url"`
	Location    *string `json:"location"`
}

// Validate implements httpapi.Validator; an empty patch is a problem of its own. It trims display_name.
func (u *UpdateRequest) Validate() []httpapi.FieldProblem {
	if *u == (UpdateRequest{}) {
		return []httpapi.FieldProblem{{Field: "body", Reason: "must set at least one field"}}
	}
	var problems []httpapi.FieldProblem
	add := func(field, reason string) {
		problems = append(problems, httpapi.FieldProblem{Field: field, Reason: reason})
	}
	tooLong := func(max int) string { return "must be at most " + strconv.Itoa(max) + " characters" }
	if u.DisplayName != nil {
		*u.DisplayName = strings.TrimSpace(*u.DisplayName)
		switch n := utf8.RuneCountInString(*u.DisplayName); {
		case n == 0:
			add("display_name", "must not be empty")
		case n > MaxDisplayNameLen:
			add("display_name", tooLong(MaxDisplayNameLen))
		}
	}
	if u.Bio != nil && utf8.RuneCountInString(*u.Bio) > MaxBioLen {
		add("bio", tooLong(MaxBioLen))
	}
	if u.AvatarURL != nil && *u.AvatarURL != "" {
		if len(*u.AvatarURL) > MaxAvatarURLLen {
			add("avatar_url", tooLong(MaxAvatarURLLen))
		} else if a, err := url.Parse(*u.AvatarURL); err != nil || (a.Scheme != "https" && a.Scheme != "http") || a.Host == "" || a.User != nil {
			add("avatar_url", "must be an absolute http or https URL")
		}
	}
	if u.Location != nil && utf8.RuneCountInString(*u.Location) > MaxLocationLen {
		add("location", tooLong(MaxLocationLen))
	}
	return problems
}
