package entity

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxQueryLen bounds ?q=, in characters.
const MaxQueryLen = 200

// Search serves GET /entities/search?q=&type=&limit=. q is required (1 to 200 characters, not blank);
// type, repeated or comma-separated, narrows the types searched (all by default); limit is 1 to 100
// (default 20). There is no cursor: a search returns its best results only.
func Search(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		q, err := ParseQuery(r)
		if err != nil {
			return err
		}
		results, err := s.Search(r.Context(), p, q)
		if err != nil {
			return httpapi.Internal(err)
		}
		if results == nil {
			results = []Result{}
		}
		httpapi.WriteJSON(w, r, http.StatusOK, httpapi.ListResponse[Result]{Items: results})
		return nil
	})
}

// ParseQuery reads and validates ?q=, ?type= and ?limit=. Every problem found is reported at once, as a
// CodeInvalid *httpapi.Error.
func ParseQuery(r *http.Request) (Query, error) {
	qs := r.URL.Query()
	var problems []httpapi.FieldProblem
	text := qs.Get("q")
	switch n := utf8.RuneCountInString(text); {
	case strings.TrimSpace(text) == "":
		problems = append(problems, httpapi.FieldProblem{Field: "q", Reason: "is required"})
	case n > MaxQueryLen:
		problems = append(problems, httpapi.FieldProblem{Field: "q", Reason: "must be at most " + strconv.Itoa(MaxQueryLen) + " characters"})
	}

	var types []string
	for _, v := range qs["type"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "":
			case !slices.Contains(Types(), t):
				problems = append(problems, httpapi.FieldProblem{Field: "type", Reason: "unknown type " + strconv.Quote(t) + "; allowed: " + strings.Join(Types(), ",")})
			case !slices.Contains(types, t):
				types = append(types, t)
			}
		}
	}
	if len(types) == 0 {
		types = Types()
	}

	page, err := httpapi.ParsePage(r)
	if err != nil {
		problems = append(problems, httpapi.AsError(err).Fields...)
	}
	if len(problems) > 0 {
		return Query{}, httpapi.Invalid(problems...)
	}
	head, prefix := SplitPrefix(text)
	return Query{Text: text, Head: head, Prefix: prefix, Types: types, Limit: page.Limit}, nil
}
