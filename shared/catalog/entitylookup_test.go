package catalog_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/catalog"
)

func TestEntityLookupEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, catalog.EntityLookup)
	ctx := t.Context()

	const (
		horseA    = "00000000-0000-4000-8000-0000000000a1"
		businessA = "00000000-0000-4000-8000-0000000000a2"
	)
	fixtures := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO horses (id, tenant_id, name, breed, created_by) VALUES ($1, $2, 'Northern Star', 'Friesian', $3)`, []any{horseA, f.a.ID, f.a.OwnerID}},
		{`INSERT INTO businesses (id, tenant_id, name, kind, city) VALUES ($1, $2, 'Northfield', 'stable', 'Uppsala')`, []any{businessA, f.a.ID}},
		{`INSERT INTO horses (tenant_id, name, created_by) VALUES ($1, 'Northern Lights', $2)`, []any{f.b.ID, f.b.OwnerID}},
	}
	for _, fx := range fixtures {
		if _, err := f.env.DB.Owner.Exec(ctx, fx.sql, fx.args...); err != nil {
			t.Fatal(err)
		}
	}

	type result struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Title    string `json:"title"`
		Subtitle string `json:"subtitle"`
	}
	type body struct {
		Items []result `json:"items"`
	}
	search := func(t *testing.T, c caller, query url.Values) []result {
		t.Helper()
		res := f.do(t, c, "GET", "/entities/search?"+query.Encode(), "")
		if res.Status != http.StatusOK {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		var b body
		res.JSON(t, &b)
		if b.Items == nil {
			t.Fatalf("items is not an array: %s", res.Body)
		}
		return b.Items
	}

	got := search(t, f.memberA, url.Values{"q": {"north"}})
	want := []result{
		{Type: "business", ID: businessA, Title: "Northfield", Subtitle: "stable · Uppsala"},
		{Type: "horse", ID: horseA, Title: "Northern Star", Subtitle: "Friesian"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("search north (-want +got):\n%s", diff)
	}
	got = search(t, f.memberA, url.Values{"q": {"north"}, "type": {"horse"}})
	if diff := cmp.Diff(want[1:], got); diff != "" {
		t.Errorf("search north, horses only (-want +got):\n%s", diff)
	}
	if got := search(t, f.memberA, url.Values{"q": {"lights"}}); len(got) != 0 {
		t.Errorf("tenant A found tenant B's horse: %+v", got)
	}

	p := f.do(t, f.memberA, "GET", "/entities/search?type=ship&limit=500", "").Problem(t, http.StatusBadRequest)
	if diff := cmp.Diff([]string{"q", "type", "limit"}, fieldsOf(p)); diff != "" {
		t.Errorf("problem fields (-want +got):\n%s", diff)
	}
	f.do(t, caller{}, "GET", "/entities/search?q=north", "").Problem(t, http.StatusUnauthorized)
}
