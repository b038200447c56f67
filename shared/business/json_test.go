package business_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/business"
	"github.com/rocker-app/corral/shared/httpapi/httpapitest"
)

// A business writes what encoding/json writes for it, whole and projected to a listing's fields (a map,
// keys sorted): every field (a field added to Business and not to its object fails here), null for nil
// pointers, strings that need escaping, times with and without a fraction, in and out of UTC.
func TestBusinessJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	businesses := []business.Business{
		{},
		{ID: "b1", Name: "Oak Farm", Kind: "stable", CreatedAt: time.Date(2026, 11, 27, 0, 13, 5, 0, time.UTC),
			UpdatedAt: time.Date(2026, 11, 27, 0, 13, 5, 123456000, time.UTC)},
		{ID: "b2", Name: `Vet <"&"> \ é ` + "\u2028\t\x01\xff", Kind: "vet", Description: s("line\nbreak"), City: s(""),
			Website: s("https://example.test/?a=1&b=2"), CreatedBy: s("u"),
			CreatedAt: time.Date(1999, 1, 2, 3, 4, 5, 600000000, time.FixedZone("e", 3600)),
			UpdatedAt: time.Date(2000, 2, 3, 4, 5, 6, 7, time.FixedZone("w", -5*3600))},
	}
	all := business.Fields()
	sets := [][]string{all, {}, {"website", "id"}, {"kind", "kind", "nope"}}
	for _, f := range all {
		sets = append(sets, []string{f})
	}
	for _, b := range businesses {
		httpapitest.CheckAppendJSON(t, b)
		for _, fields := range sets {
			want := httpapitest.ProjectedJSON(t, b, fields)
			pb := business.Projection(fields).Of(b)
			got, err := pb.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("fields %q:\n got %s\nwant %s", fields, got, want)
			}
		}
	}
	if _, err := (business.Business{UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).AppendJSON(nil); err == nil {
		t.Error("AppendJSON of a business updated in year 10000: no error, want MarshalJSON's")
	}
}
