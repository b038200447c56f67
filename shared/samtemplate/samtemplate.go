// Package samtemplate reads template.yaml, the one place that declares every function, route, queue and
// schedule, into the shapes the local runner and the tests need. It parses with goformation, so what it
// accepts is what AWS SAM accepts.
package samtemplate

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"
)

// Template is the part of template.yaml that Corral's tooling reads.
type Template struct {
	Functions []Function // sorted by Name
	Queues    []Queue    // AWS::SQS::Queue resources, sorted by Name
	// GlobalEnv holds the variables of Globals.Function.Environment whose values are literal strings in
	// the template (those from parameters and other intrinsics are left out: the local tools set their
	// own, see localrun.DevEnv).
	GlobalEnv map[string]string
}

// Function is one AWS::Serverless::Function.
type Function struct {
	LogicalID string  // e.g. EntityLookupFunction
	Name      string  // the directory name under functions/, e.g. entity-lookup
	CodeURI   string  // e.g. functions/entity-lookup
	Timeout   int     // seconds; 0 means the Globals' value
	Routes    []Route // HttpApi events, sorted by path then method
	// SQS are the function's SQS event sources, sorted by event name.
	SQS []SQSEvent
	// Schedules are the function's Schedule events, sorted by event name.
	Schedules []ScheduleEvent
	// Env names the variables of the function's own Environment (not the Globals'), sorted.
	Env []string
}

// Route is one HttpApi event: an API Gateway route key.
type Route struct {
	Event  string // the event's name in the template
	Method string // upper case; "ANY" matches every method
	Path   string // e.g. /horses/{id}
}

// Key is the API Gateway route key, e.g. "GET /horses/{id}".
func (r Route) Key() string { return r.Method + " " + r.Path }

// goformationMu serialises parsing: goformation registers its YAML tag resolvers in a package-level map
// on every YAML parse, which is not safe for concurrent use.
var goformationMu sync.Mutex

// Load parses the template at file. It is safe for concurrent use. It fails when the file is not a
// template goformation accepts, or declares a function, queue or event this package cannot represent.
func Load(file string) (*Template, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	// Intrinsics are resolved once, into JSON that both goformation's typed model and the queue and
	// event reader take. Fn::GetAtt keeps its target (goformation would make it nil).
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Fn::GetAtt": getAtt}}
	goformationMu.Lock()
	processed, err := intrinsics.ProcessYAML(data, opts)
	goformationMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", file, err)
	}
	raw, err := goformation.ParseJSONWithOptions(processed, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", file, err)
	}
	t := &Template{}
	for id, f := range raw.GetAllServerlessFunctionResources() {
		fn, err := function(id, f)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		t.Functions = append(t.Functions, fn)
	}
	sort.Slice(t.Functions, func(i, j int) bool { return t.Functions[i].Name < t.Functions[j].Name })
	if err := readQueuesAndEvents(t, processed); err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", file, err)
	}
	if t.GlobalEnv, err = globalEnv(data); err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", file, err)
	}
	return t, nil
}

// globalEnv reads the literal string variables of Globals.Function.Environment from the unprocessed
// template: after intrinsics are resolved a parameter's default is indistinguishable from a literal.
func globalEnv(data []byte) (map[string]string, error) {
	var doc struct {
		Globals struct {
			Function struct {
				Environment struct {
					Variables map[string]yaml.Node `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range doc.Globals.Function.Environment.Variables {
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			env[k] = v.Value
		}
	}
	return env, nil
}

// FindAndLoad loads the template Find locates from dir, and returns it with its directory (the repository's
// root).
func FindAndLoad(dir string) (*Template, string, error) {
	file, err := Find(dir)
	if err != nil {
		return nil, "", err
	}
	t, err := Load(file)
	if err != nil {
		return nil, "", err
	}
	return t, filepath.Dir(file), nil
}

// Find locates template.yaml by walking up from dir, so tests in any package can load it.
func Find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("samtemplate: no template.yaml above %s", dir)
		}
		dir = parent
	}
}

// Function returns the function with the given directory name.
func (t *Template) Function(name string) (Function, bool) {
	i := slices.IndexFunc(t.Functions, func(f Function) bool { return f.Name == name })
	if i < 0 {
		return Function{}, false
	}
	return t.Functions[i], true
}

func function(id string, f *serverless.Function) (Function, error) {
	if f.CodeUri == nil || f.CodeUri.String == nil {
		return Function{}, fmt.Errorf("CodeUri must be a path such as functions/<name>")
	}
	uri := path.Clean(*f.CodeUri.String)
	fn := Function{LogicalID: id, CodeURI: uri, Name: path.Base(uri)}
	if f.Timeout != nil {
		fn.Timeout = *f.Timeout
	}
	if f.Environment != nil {
		fn.Env = slices.Sorted(maps.Keys(f.Environment.Variables))
	}
	for name, ev := range f.Events {
		if ev.Type != "HttpApi" || ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			continue
		}
		h := ev.Properties.HttpApiEvent
		if h.Method == nil || h.Path == nil {
			return Function{}, fmt.Errorf("event %s: HttpApi events need Method and Path", name)
		}
		fn.Routes = append(fn.Routes, Route{Event: name, Method: strings.ToUpper(*h.Method), Path: *h.Path})
	}
	sort.Slice(fn.Routes, func(i, j int) bool {
		a, b := fn.Routes[i], fn.Routes[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return fn, nil
}
