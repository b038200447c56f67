package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
)

// position is the kind of value listings put in cursors: the sort key and id of the last row served.
type position struct {
	Name string    `json:"n"`
	At   time.Time `json:"t"`
	ID   string    `json:"id"`
}

var (
	cursorKey      = bytes.Repeat([]byte("k"), 32)
	otherCursorKey = bytes.Repeat([]byte("o"), 32)
	samplePosition = position{Name: "Bess", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), ID: "0b8e9c5e-3f4a-4d2b-9a51-7d1c2f0e6a11"}
)

func mustEncode(tb testing.TB, c *httpapi.Cursors, v any) string {
	tb.Helper()
	s, err := c.Encode(v)
	if err != nil {
		tb.Fatalf("Encode(%v): %v", v, err)
	}
	return s
}

// wantCursorProblem fails the test unless err is the CodeInvalid *Error naming the cursor parameter.
func wantCursorProblem(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		tb.Fatal("Decode accepted the cursor, want an error")
	}
	e := asHTTPError(tb, err)
	if e.Code != httpapi.CodeInvalid {
		tb.Errorf("code = %q, want invalid", e.Code)
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
		tb.Errorf("fields = %v, want one naming cursor", e.Fields)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := httpapi.NewCursors(cursorKey)
	tests := []struct {
		name string
		v    position
	}{
		{"typical", samplePosition},
		{"zero", position{}},
		{"unicode and quotes", position{Name: `Ünïcødé "🐎" </script>`, ID: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustEncode(t, c, tt.v)
			if strings.ContainsAny(s, "+/=") {
				t.Errorf("cursor %q is not unpadded base64url", s)
			}
			var got position
			if err := c.Decode(s, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.v, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCursorEncodeUnencodable(t *testing.T) {
	t.Parallel()
	if _, err := httpapi.NewCursors(cursorKey).Encode(make(chan int)); err == nil {
		t.Error("Encode(chan) succeeded, want an error")
	}
}

func TestCursorDecodeRejects(t *testing.T) {
	t.Parallel()
	c := httpapi.NewCursors(cursorKey)
	good := cursorWithUnusedBits(t, c)
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// forged carries a body the client chose with the tag of the real one.
	forged := append([]byte(`{"n":"Zed","t":"2025-03-01T12:00:00Z","id":"x"}`), raw[len(raw)-16:]...)
	tests := []struct {
		name   string
		cursor string
	}{
		{"empty", ""},
		{"garbage base64", "!!!not base64***"},
		{"padded std base64 of the same bytes", base64.StdEncoding.EncodeToString(raw)},
		{"only a tag", base64.RawURLEncoding.EncodeToString(raw[len(raw)-16:])},
		{"shorter than a tag", "AAAA"},
		{"first body byte changed", flip(0)},
		{"middle body byte changed", flip(len(raw) / 2)},
		{"tag byte changed", flip(len(raw) - 1)},
		{"truncated by one character", good[:len(good)-1]},
		{"truncated by one byte", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1])},
		{"body dropped", base64.RawURLEncoding.EncodeToString(raw[1:])},
		{"forged body", base64.RawURLEncoding.EncodeToString(forged)},
		{"made with another key", mustEncode(t, httpapi.NewCursors(otherCursorKey), samplePosition)},
		{"unsigned JSON", base64.RawURLEncoding.EncodeToString([]byte(`{"n":"Bess","t":"2025-03-01T12:00:00Z","id":"0b8e9c5e"}`))},
		{"last character's unused bits set", setUnusedBits(t, good)},
		{"line break inside", good[:5] + "\n" + good[5:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got position
			wantCursorProblem(t, c.Decode(tt.cursor, &got))
		})
	}
}

// cursorWithUnusedBits returns a valid cursor whose byte length is not a multiple of 3, so its base64 form
// ends in a character with unused bits and its padded standard encoding differs from it.
func cursorWithUnusedBits(tb testing.TB, c *httpapi.Cursors) string {
	tb.Helper()
	p := samplePosition
	for range 3 {
		if s := mustEncode(tb, c, p); len(s)%4 != 0 {
			return s
		}
		p.Name += "s"
	}
	tb.Fatal("no cursor with unused bits in three tries")
	return ""
}

// setUnusedBits returns s with the padding bits of its last base64 character set, or fails the test when s
// has none (its byte length is a multiple of 3).
func setUnusedBits(tb testing.TB, s string) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(s) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		tb.Fatalf("cursor %q has no unused bits; adjust the sample position", s)
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|(1<<unused-1)])
}

func TestCursorDecodeIntoWrongType(t *testing.T) {
	t.Parallel()
	c := httpapi.NewCursors(cursorKey)
	s := mustEncode(t, c, "just a string")
	var got position
	err := c.Decode(s, &got)
	wantCursorProblem(t, err)
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		t.Errorf("error %v does not carry the JSON cause for the log", err)
	}
}

// FuzzCursorDecode feeds Decode arbitrary strings, seeded with real cursors. Decode must never panic, and
// must accept only the exact strings Encode makes: an accepted input re-encodes to itself.
func FuzzCursorDecode(f *testing.F) {
	c := httpapi.NewCursors(cursorKey)
	for _, v := range []any{samplePosition, position{}, "s", 42, []int{1, 2, 3}, map[string]any{"k": nil}} {
		f.Add(mustEncode(f, c, v))
	}
	f.Add(mustEncode(f, httpapi.NewCursors(otherCursorKey), samplePosition))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		var raw json.RawMessage
		err := c.Decode(s, &raw)
		if err != nil {
			wantCursorProblem(t, err)
			return
		}
		again, encErr := c.Encode(raw)
		if encErr != nil {
			t.Fatalf("accepted %q whose JSON %q does not re-encode: %v", s, raw, encErr)
		}
		if again != s {
			t.Fatalf("accepted %q, which Encode never makes (it makes %q for the same position)", s, again)
		}
	})
}

func TestParsePage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query   string
		want    httpapi.Page
		wantErr bool
	}{
		{"", httpapi.Page{Limit: httpapi.DefaultPageLimit}, false},
		{"limit=", httpapi.Page{Limit: httpapi.DefaultPageLimit}, false},
		{"limit=1", httpapi.Page{Limit: 1}, false},
		{"limit=100", httpapi.Page{Limit: httpapi.MaxPageLimit}, false},
		{"limit=37&cursor=abc_-", httpapi.Page{Limit: 37, Cursor: "abc_-"}, false},
		{"cursor=xyz", httpapi.Page{Limit: httpapi.DefaultPageLimit, Cursor: "xyz"}, false},
		{"limit=0", httpapi.Page{}, true},
		{"limit=101", httpapi.Page{}, true},
		{"limit=-5", httpapi.Page{}, true},
		{"limit=ten", httpapi.Page{}, true},
		{"limit=2.5", httpapi.Page{}, true},
		{"limit=99999999999999999999", httpapi.Page{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.ParsePage(httptest.NewRequest(http.MethodGet, "/horses?"+tt.query, nil))
			if tt.wantErr {
				e := asHTTPError(t, err)
				if e.Code != httpapi.CodeInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "limit" {
					t.Errorf("error = %#v, want invalid naming limit", e)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePage: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	allowed := []string{"id", "name", "breed", "born"}
	tests := []struct {
		name    string
		query   string
		want    []string
		wantErr string // a quoted field the reason must name
	}{
		{name: "absent", query: "", want: allowed},
		{name: "empty", query: "fields=", want: allowed},
		{name: "one", query: "fields=name", want: []string{"id", "name"}},
		{name: "reordered", query: "fields=born,name", want: []string{"id", "name", "born"}},
		{name: "id only", query: "fields=id", want: []string{"id"}},
		{name: "spaces and empties", query: "fields=%20breed%20,,name,", want: []string{"id", "name", "breed"}},
		{name: "duplicates", query: "fields=name,name", want: []string{"id", "name"}},
		{name: "only commas", query: "fields=,,", want: []string{"id"}},
		{name: "unknown", query: "fields=colour", wantErr: `"colour"`},
		{name: "unknown among known", query: "fields=name,owner_email", wantErr: `"owner_email"`},
		{name: "case matters", query: "fields=Name", wantErr: `"Name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.ParseFields(httptest.NewRequest(http.MethodGet, "/horses?"+tt.query, nil), allowed)
			if tt.wantErr != "" {
				e := asHTTPError(t, err)
				if e.Code != httpapi.CodeInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "fields" {
					t.Fatalf("error = %#v, want invalid naming fields", e)
				}
				if !strings.Contains(e.Fields[0].Reason, tt.wantErr) {
					t.Errorf("reason %q does not name %s", e.Fields[0].Reason, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFields: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListResponseJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    httpapi.ListResponse[int]
		want string
	}{
		{"last page", httpapi.ListResponse[int]{Items: []int{1}}, `{"items":[1]}`},
		{"more pages", httpapi.ListResponse[int]{Items: []int{1, 2}, NextCursor: "c"}, `{"items":[1,2],"next_cursor":"c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
