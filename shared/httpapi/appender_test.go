package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rocker-app/corral/shared/httpapi"
)

type appender struct {
	out string
	err error
}

func (a appender) AppendJSON(b []byte) ([]byte, error) { return append(b, a.out...), a.err }

// EncodeJSON takes a JSONAppender's bytes as they are, adds the Encoder's newline, and passes its error on.
func TestEncodeJSONUsesAppender(t *testing.T) {
	t.Parallel()
	got, err := httpapi.EncodeJSON(appender{out: `{"a":1}`})
	if err != nil || string(got) != "{\"a\":1}\n" {
		t.Errorf("EncodeJSON(appender) = %q, %v; want the appended bytes and a newline", got, err)
	}
	boom := errors.New("boom")
	if _, err := httpapi.EncodeJSON(appender{err: boom}); !errors.Is(err, boom) {
		t.Errorf("EncodeJSON(failing appender) error %v, want %v", err, boom)
	}
}

// A ListResponse writes what encoding/json writes for it: items that write themselves and items that do
// not, a nil and an empty list, the cursor only when there is one; an item's error is passed on.
func TestListResponseAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	type item struct {
		Name string            `json:"name"`
		Tags map[string]string `json:"tags,omitempty"`
	}
	encode := func(v any) string {
		t.Helper()
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	plain := []item{{Name: `<a & "b">`}, {Name: "\u2028", Tags: map[string]string{"z": "1", "a": "2"}}}
	for _, tc := range []struct {
		name string
		resp httpapi.ListResponse[item]
	}{
		{"nil items", httpapi.ListResponse[item]{}},
		{"empty items", httpapi.ListResponse[item]{Items: []item{}}},
		{"items and a cursor", httpapi.ListResponse[item]{Items: plain, NextCursor: "c<&>"}},
	} {
		got, err := httpapi.EncodeJSON(tc.resp)
		if err != nil {
			t.Fatal(err)
		}
		if want := encode(struct {
			Items      []item `json:"items"`
			NextCursor string `json:"next_cursor,omitempty"`
		}{tc.resp.Items, tc.resp.NextCursor}); string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
	got, err := httpapi.EncodeJSON(httpapi.ListResponse[appender]{Items: []appender{{out: `{"a":1}`}, {out: `2`}}})
	if err != nil || string(got) != "{\"items\":[{\"a\":1},2]}\n" {
		t.Errorf("appender items: %q, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := httpapi.EncodeJSON(httpapi.ListResponse[appender]{Items: []appender{{out: "1"}, {err: boom}}}); !errors.Is(err, boom) {
		t.Errorf("failing item: error %v, want %v", err, boom)
	}
}
