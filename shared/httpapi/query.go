package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rocker-app/corral/shared/jsonx"
)

// Page is a keyset page request: how many rows and where to start.
type Page struct {
	Limit  int
	Cursor string // opaque; "" for the first page
}

// Page size bounds for every listing.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// ParsePage reads ?limit= and ?cursor=. A limit that is not a whole number from 1 to MaxPageLimit is a
// CodeInvalid *Error.
func ParsePage(r *http.Request) (Page, error) {
	q := r.URL.Query()
	p := Page{Limit: DefaultPageLimit, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, Invalid(FieldProblem{Field: "limit", Reason: "must be a whole number from 1 to " + strconv.Itoa(MaxPageLimit)})
		}
		p.Limit = n
	}
	return p, nil
}

// ParseFields reads the ?fields= projection (comma-separated). An absent parameter selects all of allowed;
// a name outside allowed is a CodeInvalid *Error. The result keeps the order of allowed, so callers can build
// a column list from it deterministically, and always includes "id".
func ParseFields(r *http.Request, allowed []string) ([]string, error) {
	raw := r.URL.Query().Get("fields")
	if raw == "" {
		return allowed, nil
	}
	want := map[string]bool{"id": true}
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(allowed, f) {
			return nil, Invalid(FieldProblem{Field: "fields", Reason: "unknown field " + strconv.Quote(f) + "; allowed: " + strings.Join(allowed, ",")})
		}
		want[f] = true
	}
	out := make([]string, 0, len(want))
	for _, f := range allowed {
		if want[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

// ListResponse is the envelope of every keyset-paginated listing.
type ListResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// AppendJSON implements JSONAppender: the bytes encoding/json writes for l, with each item that is a
// JSONAppender writing itself and the others encoded by encoding/json, so a listing of values that write
// their own JSON costs no reflection.
func (l ListResponse[T]) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, 16+len(l.Items)*256) // room for most items in one allocation
	b = append(b, `{"items":`...)
	if l.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range l.Items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			// Through a pointer, so that an item whose AppendJSON takes a pointer is found too and no
			// item is copied.
			if a, ok := any(&l.Items[i]).(JSONAppender); ok {
				b, err = a.AppendJSON(b)
			} else {
				var j []byte
				j, err = json.Marshal(l.Items[i]) // escapes HTML as EncodeJSON's Encoder does
				b = append(b, j...)
			}
			if err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if l.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = jsonx.AppendString(b, l.NextCursor)
	}
	return append(b, '}'), nil
}
