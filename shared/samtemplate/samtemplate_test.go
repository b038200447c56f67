package samtemplate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadRepoTemplate(t testing.TB) (*Template, string) {
	t.Helper()
	tpl, root, err := FindAndLoad(".")
	if err != nil {
		t.Fatal(err)
	}
	return tpl, root
}

// Every functions/* directory has exactly one resource, every resource a directory with a main.go, and the
// logical id follows the convention the Makefile's build-%Function rule relies on.
func TestTemplateMatchesFunctionsDirectory(t *testing.T) {
	tpl, root := loadRepoTemplate(t)
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string][]string{}
	for _, f := range tpl.Functions {
		resources[f.Name] = append(resources[f.Name], f.LogicalID)
		if want := "functions/" + f.Name; f.CodeURI != want {
			t.Errorf("%s: CodeUri %q, want %q", f.LogicalID, f.CodeURI, want)
		}
		if want := logicalID(f.Name); f.LogicalID != want {
			t.Errorf("%s: logical id should be %s (make build-%s builds functions/%s)", f.LogicalID, want, want, f.Name)
		}
		if _, err := os.Stat(filepath.Join(root, f.CodeURI, "main.go")); err != nil {
			t.Errorf("%s: %v", f.LogicalID, err)
		}
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if n := len(resources[d.Name()]); n != 1 {
			t.Errorf("functions/%s has %d resources in template.yaml, want exactly 1", d.Name(), n)
		}
	}
	if len(tpl.Functions) == 0 {
		t.Fatal("template.yaml declares no functions")
	}
}

func logicalID(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Function"
}

func TestRouterLookup(t *testing.T) {
	t.Parallel()
	tpl := &Template{Functions: []Function{
		{Name: "horses", Routes: []Route{{Method: "GET", Path: "/horses"}, {Method: "GET", Path: "/horses/{id}"}, {Method: "PATCH", Path: "/horses/{id}"}}},
		{Name: "special", Routes: []Route{{Method: "GET", Path: "/horses/mine"}}},
		{Name: "proxy", Routes: []Route{{Method: "ANY", Path: "/files/{proxy+}"}}},
		{Name: "any", Routes: []Route{{Method: "ANY", Path: "/horses/{id}"}}},
	}}
	r := NewRouter(tpl)
	tests := []struct {
		method, path string
		want         Match
		ok           bool
	}{
		{"GET", "/horses", Match{Function: "horses", Route: Route{Method: "GET", Path: "/horses"}, Params: map[string]string{}}, true},
		{"GET", "/horses/", Match{Function: "horses", Route: Route{Method: "GET", Path: "/horses"}, Params: map[string]string{}}, true},
		{"GET", "/horses/42", Match{Function: "horses", Route: Route{Method: "GET", Path: "/horses/{id}"}, Params: map[string]string{"id": "42"}}, true},
		{"GET", "/horses/mine", Match{Function: "special", Route: Route{Method: "GET", Path: "/horses/mine"}, Params: map[string]string{}}, true},
		{"DELETE", "/horses/42", Match{Function: "any", Route: Route{Method: "ANY", Path: "/horses/{id}"}, Params: map[string]string{"id": "42"}}, true},
		{"GET", "/files/a/b/c.txt", Match{Function: "proxy", Route: Route{Method: "ANY", Path: "/files/{proxy+}"}, Params: map[string]string{"proxy": "a/b/c.txt"}}, true},
		{"GET", "/horses/42/extra", Match{}, false},
		{"POST", "/nothing", Match{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got, ok := r.Lookup(tc.method, tc.path)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); ok && diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkRouterLookup routes a request among the real template's routes, as the local runner does for
// every request.
func BenchmarkRouterLookup(b *testing.B) {
	tpl, _, err := FindAndLoad(".")
	if err != nil {
		b.Fatal(err)
	}
	r := NewRouter(tpl)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Lookup("GET", "/horses/0195a3f2-7c1e-7d4a-9b1e-2f3c4d5e6f70"); !ok {
			b.Fatal("no route")
		}
	}
}
