// Package entity is one search over a tenant's profiles, horses and businesses: GET /entities/search.
//
// Matching is full-text over each table's search column (a tsvector with the 'simple' configuration): the
// query text in websearch syntax (quoted phrases, OR, -exclusion), and while the last word is still being
// typed, that word as a prefix. Results are ranked with ts_rank, best first. Persistence is behind Store,
// declared here and implemented by shared/postgres; row-level security keeps every result in the caller's
// tenant.
package entity

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/auth"
)

// Entity types.
const (
	TypeProfile  = "profile"
	TypeHorse    = "horse"
	TypeBusiness = "business"
)

// Types lists every entity type, the default of a search.
func Types() []string { return []string{TypeProfile, TypeHorse, TypeBusiness} }

// Result is one match. Subtitle is "" when the entity has nothing to show there.
type Result struct {
	Type     string  `json:"type"`
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Subtitle string  `json:"subtitle"`
	Rank     float32 `json:"rank"`
}

// Query is a validated search. Text is the websearch query; Head and Prefix split it for prefix matching
// (see SplitPrefix).
type Query struct {
	Text   string
	Head   string
	Prefix string
	Types  []string
	Limit  int
}

// Store runs searches as principal p under the tenant's row-level security. Search returns at most q.Limit
// results of the types in q.Types, ordered by rank, then type, then id. Its errors are unexpected failures.
type Store interface {
	Search(ctx context.Context, p auth.Principal, q Query) ([]Result, error)
}

// SplitPrefix splits a query for prefix matching of its last word. When text ends in a word (letters and
// digits) that is not inside a quoted phrase nor excluded with a leading '-', prefix is that word in lower
// case and head is the text before it; otherwise both are "" and only whole words match. A text ending in
// a space has finished its last word, so it has no prefix.
func SplitPrefix(text string) (head, prefix string) {
	i := len(text)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(text[:i])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		i -= size
	}
	if i == len(text) {
		return "", ""
	}
	if strings.Count(text[:i], `"`)%2 == 1 {
		return "", "" // inside an open phrase
	}
	if i > 0 && text[i-1] == '-' && (i == 1 || text[i-2] == ' ') {
		return "", "" // an exclusion
	}
	return text[:i], strings.ToLower(text[i:])
}
