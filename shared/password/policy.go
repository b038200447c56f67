package password

import (
	"strings"
	"unicode/utf8"
)

// Limits of the password policy.
const (
	MinLength = 10  // characters (Unicode code points), not bytes: ten letters of any script
	MaxLength = 256 // bytes of UTF-8
)

// PolicyError is a password the policy refuses. Reason is phrased to follow the field name in an API field
// problem: {"field": "password", "reason": err.Reason}.
type PolicyError struct {
	Reason string
}

func (e *PolicyError) Error() string { return "password " + e.Reason }

// The policy's refusals; CheckPolicy returns exactly these values, so errors.Is matches them.
var (
	ErrTooShort = &PolicyError{Reason: "must be at least 10 characters"}
	ErrTooLong  = &PolicyError{Reason: "must be at most 256 bytes"}
	ErrBlank    = &PolicyError{Reason: "must not be only white space"}
	ErrNotUTF8  = &PolicyError{Reason: "must be valid UTF-8"}
)

// CheckPolicy applies the policy for a new password (NIST SP 800-63B: length, no composition rules): valid
// UTF-8, MinLength characters to MaxLength bytes, not only white space. It returns nil or one of the
// *PolicyError values above. Passwords are hashed exactly as given: no trimming, no normalisation.
func CheckPolicy(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return ErrNotUTF8
	case len(pw) > MaxLength:
		return ErrTooLong
	case strings.TrimSpace(pw) == "":
		return ErrBlank
	case utf8.RuneCountInString(pw) < MinLength:
		return ErrTooShort
	}
	return nil
}
