package awsparts_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rocker-app/corral/shared/samtemplate"
)

// part is an optional AWS-backed part of a function: the SDK packages it links and the IAM actions the
// template grants the functions that use it.
type part struct {
	name     string
	packages []string // linked when the function uses the part
	action   string   // an IAM action only functions with the part are granted
}

var parts = []part{
	{name: "KMS sealing (platform.WithKMS)", packages: []string{"github.com/aws/aws-sdk-go-v2/service/kms"}, action: "kms:GenerateDataKey"},
	{name: "signing-key references (platform.WithKeyReferences)", packages: []string{
		"github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager",
	}, action: "ssm:GetParameter"},
	{name: "DynamoDB idempotency (platform.WithDynamoDB)", packages: []string{"github.com/aws/aws-sdk-go-v2/service/dynamodb"}, action: "dynamodb:PutItem"},
}

// Each function links an optional AWS part exactly when template.yaml grants it that part's permission:
// a function that may need the part cannot start without it, and one that links it without needing it pays
// megabytes of binary and milliseconds of package initialisation at every cold start.
func TestFunctionsLinkOnlyThePartsTheirPoliciesGrant(t *testing.T) {
	t.Parallel()
	file, err := samtemplate.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(file)
	granted := grantedActions(t, file)
	linked := linkedPackages(t, root)

	tpl, err := samtemplate.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tpl.Functions {
		deps, ok := linked[f.Name]
		if !ok {
			t.Errorf("%s: go list did not list functions/%s", f.LogicalID, f.Name)
			continue
		}
		for _, p := range parts {
			grants := slices.Contains(granted[f.LogicalID], p.action)
			for _, pkg := range p.packages {
				if links := deps[pkg]; links != grants {
					t.Errorf("%s: links %s = %v, but its policies grant %s = %v (%s)", f.Name, pkg, links, p.action, grants, p.name)
				}
			}
		}
	}
	// The test would pass vacuously if nothing were granted or linked.
	for _, p := range parts {
		n := 0
		for _, actions := range granted {
			if slices.Contains(actions, p.action) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no function is granted %s: the template or this test changed", p.action)
		}
	}
	if deps := linked["health"]; deps == nil || !deps["github.com/jackc/pgx/v5"] {
		t.Errorf("functions/health does not link pgx: the go list output was not read")
	}
}

// grantedActions returns the IAM actions each function's role is granted, by logical id: its own Policies
// (YAML anchors followed) and the AWS::IAM::Policy resources that name its role (<LogicalId>Role).
func grantedActions(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string    `yaml:"Type"`
			Properties yaml.Node `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for id, r := range doc.Resources {
		switch r.Type {
		case "AWS::Serverless::Function":
			var props struct {
				Policies yaml.Node `yaml:"Policies"`
			}
			if err := r.Properties.Decode(&props); err != nil {
				t.Fatal(err)
			}
			out[id] = append(out[id], actions(&props.Policies)...)
		case "AWS::IAM::Policy":
			var props struct {
				Roles          []yaml.Node `yaml:"Roles"`
				PolicyDocument yaml.Node   `yaml:"PolicyDocument"`
			}
			if err := r.Properties.Decode(&props); err != nil {
				t.Fatal(err)
			}
			for _, role := range props.Roles {
				fn, ok := strings.CutSuffix(role.Value, "Role")
				if !ok {
					t.Errorf("%s: role %q is not a function's <LogicalId>Role", id, role.Value)
				}
				out[fn] = append(out[fn], actions(&props.PolicyDocument)...)
			}
		}
	}
	return out
}

// actions collects the scalars under n that look like IAM actions (service:Action), following aliases.
func actions(n *yaml.Node) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.AliasNode:
			walk(n.Alias)
		case yaml.ScalarNode:
			if svc, act, ok := strings.Cut(n.Value, ":"); ok && svc != "" && act != "" && !strings.ContainsAny(n.Value, " /$") {
				out = append(out, n.Value)
			}
		default:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(n)
	return out
}

// linkedPackages returns, per function directory name, the set of packages its binary links (go list -deps).
func linkedPackages(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-f", `{{.Dir}}{{range .Deps}} {{.}}{{end}}`, "./functions/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	linked := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		deps := map[string]bool{}
		for _, d := range fields[1:] {
			deps[d] = true
		}
		linked[filepath.Base(fields[0])] = deps
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return linked
}
