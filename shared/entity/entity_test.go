package entity_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/entity"
	"github.com/rocker-app/corral/shared/httpapi"
)

func TestSplitPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text, head, prefix string
	}{
		{"nor", "", "nor"},
		{"Northern St", "Northern ", "st"},
		{"northern ", "", ""},
		{"Étoi", "", "étoi"},
		{"north2025", "", "north2025"},
		{`"north wind"`, "", ""},
		{`"north wi`, "", ""},
		{`"north" wi`, `"north" `, "wi"},
		{"north -wi", "", ""},
		{"-wi", "", ""},
		{"well-kn", "well-", "kn"},
		{"o'bri", "o'", "bri"},
		{"", "", ""},
		{"?!", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			head, prefix := entity.SplitPrefix(tt.text)
			if head != tt.head || prefix != tt.prefix {
				t.Errorf("SplitPrefix(%q) = (%q, %q), want (%q, %q)", tt.text, head, prefix, tt.head, tt.prefix)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  entity.Query
		bad   []string // fields with problems, when the query is invalid
	}{
		{"defaults", "q=nor", entity.Query{Text: "nor", Prefix: "nor", Types: entity.Types(), Limit: httpapi.DefaultPageLimit}, nil},
		{"comma list", "q=a+b&type=horse,business&limit=5",
			entity.Query{Text: "a b", Head: "a ", Prefix: "b", Types: []string{"horse", "business"}, Limit: 5}, nil},
		{"repeated, with duplicates", "q=x&type=business&type=profile&type=business",
			entity.Query{Text: "x", Prefix: "x", Types: []string{"business", "profile"}, Limit: httpapi.DefaultPageLimit}, nil},
		{"q missing", "type=horse", entity.Query{}, []string{"q"}},
		{"q blank", "q=+++", entity.Query{}, []string{"q"}},
		{"q too long", "q=" + strings.Repeat("a", 201), entity.Query{}, []string{"q"}},
		{"q of 200 characters", "q=" + strings.Repeat("é", 200),
			entity.Query{Text: strings.Repeat("é", 200), Prefix: strings.Repeat("é", 200), Types: entity.Types(), Limit: httpapi.DefaultPageLimit}, nil},
		{"unknown type", "q=x&type=horse,post", entity.Query{}, []string{"type"}},
		{"everything wrong", "q=&type=post&limit=0", entity.Query{}, []string{"q", "type", "limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := entity.ParseQuery(httptest.NewRequest("GET", "/entities/search?"+tt.query, nil))
			if tt.bad != nil {
				var fields []string
				for _, p := range httpapi.AsError(err).Fields {
					fields = append(fields, p.Field)
				}
				if diff := cmp.Diff(tt.bad, fields); diff != "" {
					t.Errorf("problem fields (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseQuery (-want +got):\n%s", diff)
			}
		})
	}
}
