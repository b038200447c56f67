package profile

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of the request fields, in characters.
const (
	MaxDisplayNameLen = 200
	MaxBioLen         = 5000
	MaxAvatarURLLen   = 2048
	MaxLocationLen    = 200
	MaxAddressLineLen = 200 // line1, line2
	MaxCityLen        = 100 // city, region
	MaxPostalCodeLen  = 20
)

// MinDateOfBirth is the earliest date of birth accepted; the latest is today (UTC).
const MinDateOfBirth = "1900-01-01"

// UpdateRequest is the body of PATCH /me. An absent (or null) field is left unchanged; an empty string
// clears bio, avatar_url, location, phone or date_of_birth, and an address object with no field set ({})
// clears the address. display_name cannot be cleared. At least one field must be present.
//
// phone is an international number: a '+', the country code and the number, 8 to 15 digits in all;
// spaces, dashes, dots and parentheses are allowed and removed (E.164, "+46 70-123 45 67" is stored as
// "+46701234567"). date_of_birth is YYYY-MM-DD, from MinDateOfBirth to today. address is an object (see
// Address): line1, city and country are required, country an ISO 3166-1 alpha-2 code in either case.
type UpdateRequest struct {
	DisplayName *string  `json:"display_name"`
	Bio         *string  `json:"bio"`
	AvatarURL   *string  `json:"avatar_url"`
	Location    *string  `json:"location"`
	Phone       *string  `json:"phone"`
	DateOfBirth *string  `json:"date_of_birth"`
	Address     *Address `json:"address"`
}

// Validate implements httpapi.Validator; an empty patch is a problem of its own. It trims display_name and
// the address fields, and normalises phone (E.164) and the address's country (upper case).
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
	if u.Phone != nil && *u.Phone != "" {
		if e164, ok := normalizePhone(*u.Phone); ok {
			*u.Phone = e164
		} else {
			add("phone", "must be an international number such as +46 70 123 45 67")
		}
	}
	if u.DateOfBirth != nil && *u.DateOfBirth != "" {
		d, err := time.Parse(time.DateOnly, *u.DateOfBirth)
		switch {
		case err != nil || d.Format(time.DateOnly) != *u.DateOfBirth:
			add("date_of_birth", "must be a date in the form YYYY-MM-DD")
		case *u.DateOfBirth < MinDateOfBirth || *u.DateOfBirth > time.Now().UTC().Format(time.DateOnly):
			add("date_of_birth", "must be from "+MinDateOfBirth+" to today")
		}
	}
	if a := u.Address; a != nil {
		for _, f := range []*string{&a.Line1, &a.Line2, &a.PostalCode, &a.City, &a.Region, &a.Country} {
			*f = strings.TrimSpace(*f)
		}
		a.Country = strings.ToUpper(a.Country)
		if !a.IsZero() {
			fields := []struct {
				name     string
				value    string
				max      int
				required bool
			}{
				{"line1", a.Line1, MaxAddressLineLen, true},
				{"line2", a.Line2, MaxAddressLineLen, false},
				{"postal_code", a.PostalCode, MaxPostalCodeLen, false},
				{"city", a.City, MaxCityLen, true},
				{"region", a.Region, MaxCityLen, false},
			}
			for _, f := range fields {
				switch n := utf8.RuneCountInString(f.value); {
				case n == 0 && f.required:
					add("address."+f.name, "must not be empty")
				case n > f.max:
					add("address."+f.name, tooLong(f.max))
				}
			}
			if len(a.Country) != 2 || strings.Trim(a.Country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				add("address.country", "must be an ISO 3166-1 alpha-2 country code such as SE")
			}
		}
	}
	return problems
}

// normalizePhone returns s in E.164 ("+" and 8 to 15 digits, the first not 0) without the separators
// people type (spaces, dashes, dots, parentheses); ok is false for anything else.
func normalizePhone(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	e := b.String()
	if len(e) < 9 || len(e) > 16 || e[0] != '+' || e[1] == '0' {
		return "", false
	}
	return e, true
}
