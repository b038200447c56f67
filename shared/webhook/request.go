package webhook

import (
	"regexp"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Limits of a registration (the migration's check constraints agree).
const (
	MaxURLLen         = 2048
	MaxDescriptionLen = 500
	MaxEventTypes     = 50
	maxEventTypeLen   = 200
)

// AllEvents subscribes an endpoint to every event type.
const AllEvents = "*"

var eventTypeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`) })

// ValidEventType reports whether s is a dotted lower-case name such as "horse.created", or AllEvents.
func ValidEventType(s string) bool {
	return s == AllEvents || (len(s) <= maxEventTypeLen && eventTypeRE().MatchString(s))
}

// CreateRequest is the body of POST /webhooks/endpoints. The URL's scheme and addresses are checked by
// the Guard, which needs the allow-list and DNS; Validate checks the rest of the shape.
type CreateRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
}

// Validate implements httpapi.Validator. Duplicate event types are removed, order kept.
func (c *CreateRequest) Validate() []httpapi.FieldProblem {
	var problems []httpapi.FieldProblem
	switch n := len(c.URL); {
	case n == 0:
		problems = append(problems, httpapi.FieldProblem{Field: "url", Reason: "is required"})
	case n > MaxURLLen:
		problems = append(problems, httpapi.FieldProblem{Field: "url", Reason: "must be at most " + strconv.Itoa(MaxURLLen) + " bytes"})
	}
	if utf8.RuneCountInString(c.Description) > MaxDescriptionLen {
		problems = append(problems, httpapi.FieldProblem{Field: "description", Reason: "must be at most " + strconv.Itoa(MaxDescriptionLen) + " characters"})
	}
	var types []string
	for _, t := range c.EventTypes {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	c.EventTypes = types
	switch {
	case len(types) == 0:
		problems = append(problems, httpapi.FieldProblem{Field: "event_types", Reason: "must list at least one event type"})
	case len(types) > MaxEventTypes:
		problems = append(problems, httpapi.FieldProblem{Field: "event_types", Reason: "must list at most " + strconv.Itoa(MaxEventTypes) + " event types"})
	default:
		for _, t := range types {
			if !ValidEventType(t) {
				problems = append(problems, httpapi.FieldProblem{Field: "event_types", Reason: strconv.Quote(t) + ` is not a dotted lower-case name such as "horse.created", nor "*"`})
				break
			}
		}
	}
	return problems
}
