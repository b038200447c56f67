// Package httpapitest holds test helpers for the JSON that package httpapi writes.
package httpapitest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rocker-app/corral/shared/httpapi"
)

// CheckAppendJSON fails tb unless v.AppendJSON writes what encoding/json's Encoder (the one
// httpapi.EncodeJSON would otherwise use) writes for v, without its newline.
func CheckAppendJSON(tb testing.TB, v httpapi.JSONAppender) {
	tb.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(v); err != nil {
		tb.Fatal(err)
	}
	got, err := v.AppendJSON(nil)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want.Bytes()) {
		tb.Errorf("AppendJSON:\n got %s\nwant %s", got, want.Bytes())
	}
}

// ProjectedJSON is what encoding/json writes for a map of v's named JSON fields (keys sorted): the bytes an
// httpapi.Projection must write for v. Names v does not have are left out.
func ProjectedJSON(tb testing.TB, v any, names []string) []byte {
	tb.Helper()
	whole, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(whole, &fields); err != nil {
		tb.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, n := range names {
		if f, ok := fields[n]; ok {
			out[n] = f
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
