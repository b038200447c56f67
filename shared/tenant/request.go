package tenant

import (
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of the request fields.
const (
	// MaxNameLen is the longest tenant name, in characters (the migration's check constraint).
	MaxNameLen = 200
	// DefaultInviteHours is how long an invite stays valid when the request does not say.
	DefaultInviteHours = 168
	// MaxInviteHours is the longest an invite may stay valid (30 days).
	MaxInviteHours = 720
)

// RenameRequest is the body of PATCH /tenant.
type RenameRequest struct {
	Name string `json:"name"`
}

// Validate implements httpapi.Validator; it trims the name.
func (r *RenameRequest) Validate() []httpapi.FieldProblem {
	r.Name = strings.TrimSpace(r.Name)
	switch n := utf8.RuneCountInString(r.Name); {
	case n == 0:
		return []httpapi.FieldProblem{{Field: "name", Reason: "is required"}}
	case n > MaxNameLen:
		return []httpapi.FieldProblem{{Field: "name", Reason: "must be at most " + strconv.Itoa(MaxNameLen) + " characters"}}
	}
	return nil
}

// ChangeRoleRequest is the body of PATCH /tenant/members/{user_id}.
type ChangeRoleRequest struct {
	Role string `json:"role"`
}

// Validate implements httpapi.Validator. Whether the caller may grant the role is the store's check.
func (c *ChangeRoleRequest) Validate() []httpapi.FieldProblem {
	if !slices.Contains(Roles(), c.Role) {
		return []httpapi.FieldProblem{{Field: "role", Reason: "must be one of " + strings.Join(Roles(), ", ")}}
	}
	return nil
}

// InviteRequest is the body of POST /tenant/invites. Email, when given, restricts the invite to that
// address (compared case-insensitively at signup). ExpiresInHours defaults to DefaultInviteHours.
type InviteRequest struct {
	Role           string  `json:"role"`
	Email          *string `json:"email"`
	ExpiresInHours *int    `json:"expires_in_hours"`
}

// MaxEmailLen is the longest email address an invite may name (RFC 5321's path limit).
const MaxEmailLen = 254

// Validate implements httpapi.Validator; it trims the email.
func (in *InviteRequest) Validate() []httpapi.FieldProblem {
	var problems []httpapi.FieldProblem
	if !slices.Contains(InviteRoles(), in.Role) {
		problems = append(problems, httpapi.FieldProblem{Field: "role", Reason: "must be one of " + strings.Join(InviteRoles(), ", ")})
	}
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		in.Email = &e
		if !validEmail(e) {
			problems = append(problems, httpapi.FieldProblem{Field: "email", Reason: "must be an email address of at most " + strconv.Itoa(MaxEmailLen) + " characters"})
		}
	}
	if h := in.ExpiresInHours; h != nil && (*h < 1 || *h > MaxInviteHours) {
		problems = append(problems, httpapi.FieldProblem{Field: "expires_in_hours", Reason: "must be a whole number from 1 to " + strconv.Itoa(MaxInviteHours)})
	}
	return problems
}

// validEmail reports whether s is a bare address (no display name, no angle brackets) that net/mail
// accepts, of at most MaxEmailLen bytes.
func validEmail(s string) bool {
	if s == "" || len(s) > MaxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// TTL returns how long the invite stays valid: ExpiresInHours, or DefaultInviteHours when absent.
func (in InviteRequest) TTL() time.Duration {
	h := DefaultInviteHours
	if in.ExpiresInHours != nil {
		h = *in.ExpiresInHours
	}
	return time.Duration(h) * time.Hour
}
