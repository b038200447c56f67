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

// part is an AWS-backed part of a function: the packages it links and the IAM actions the template grants
// the functions that use it.
type part struct {
	name     string
	packages []string // linked when the function uses the part
	actions  []string // IAM actions only functions with the part are granted (any of them)
	// linkedByAll is why every function links the part whether or not it is granted (then only "granted
	// implies linked" is checked); "" for a part linked exactly when granted.
	linkedByAll string
}

const (
	module = "github.com/rocker-app/corral/"
	sdk    = "github.com/aws/aws-sdk-go-v2/service/"
)

var parts = []part{
	{name: "KMS sealing (platform.WithKMS)", packages: []string{module + "shared/seal/sealkms"},
		actions: []string{"kms:GenerateDataKey", "kms:Decrypt"}},
	{name: "signing-key references (platform.WithKeyReferences)", packages: []string{module + "shared/auth/keyrefs"},
		actions: []string{"ssm:GetParameter", "secretsmanager:GetSecretValue"}},
	{name: "DynamoDB idempotency (platform.WithDynamoDB)", packages: []string{module + "shared/dynamo"},
		actions: []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}},
	{name: "SQS (shared/sqsx)", packages: []string{module + "shared/sqsx"},
		actions:     []string{"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:GetQueueAttributes"},
		linkedByAll: "shared/platform builds an SQS client for every function (Deps.SQS)"},
}

// sdkClientsAllowed are the SDK's generated service clients a function may link: none. Every AWS API is
// called through shared/awsjson (see the parts above; SQS through sqsx.Client), since each generated client
// costs megabytes of binary and 0.4 ms or more of package initialisation at every cold start.
var sdkClientsAllowed []string

// samPolicyTemplates are the actions of the SAM policy templates a function's Policies may name instead of
// a statement (a representative subset of each template's actions).
var samPolicyTemplates = map[string][]string{
	"SQSSendMessagePolicy":                  {"sqs:SendMessage"},
	"SQSPollerPolicy":                       {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
	"DynamoDBCrudPolicy":                    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"KMSDecryptPolicy":                      {"kms:Decrypt"},
	"SSMParameterReadPolicy":                {"ssm:GetParameter"},
	"AWSSecretsManagerGetSecretValuePolicy": {"secretsmanager:GetSecretValue"},
}

// Each function links an optional AWS part exactly when template.yaml grants it that part's permissions:
// a function that may need the part cannot start without it, and one that links it without needing it pays
// binary size and package initialisation at every cold start. No function links one of the SDK's
// generated service clients other than those in sdkClientsAllowed.
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
	grantedCount, linkedCount := map[string]int{}, map[string]int{}
	for _, f := range tpl.Functions {
		deps, ok := linked[f.Name]
		if !ok {
			t.Errorf("%s: go list did not list functions/%s", f.LogicalID, f.Name)
			continue
		}
		for _, p := range parts {
			grants := slices.ContainsFunc(p.actions, func(a string) bool { return slices.Contains(granted[f.LogicalID], a) })
			if grants {
				grantedCount[p.name]++
			}
			for _, pkg := range p.packages {
				links := deps[pkg]
				if links {
					linkedCount[p.name]++
				}
				switch {
				case grants && !links:
					t.Errorf("%s: its policies grant %v (%s) but it does not link %s", f.Name, p.actions, p.name, pkg)
				case links && !grants && p.linkedByAll == "":
					t.Errorf("%s: links %s (%s) but its policies grant none of %v", f.Name, pkg, p.name, p.actions)
				}
			}
		}
		for pkg := range deps {
			if rest, ok := strings.CutPrefix(pkg, sdk); ok && !strings.Contains(rest, "/") && !slices.Contains(sdkClientsAllowed, pkg) {
				t.Errorf("%s: links the SDK's %s client (%s): call the API through shared/awsjson in a part of its own", f.Name, rest, pkg)
			}
		}
	}
	// The test would pass vacuously if nothing were granted or linked.
	for _, p := range parts {
		if grantedCount[p.name] == 0 || linkedCount[p.name] == 0 {
			t.Errorf("%s: granted to %d functions, linked by %d: the template, the functions or this test changed",
				p.name, grantedCount[p.name], linkedCount[p.name])
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

// actions collects the scalars under n that look like IAM actions (service:Action), following aliases,
// and the actions of the SAM policy templates named under n.
func actions(n *yaml.Node) []string {
	var out []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.AliasNode:
			walk(n.Alias)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				out = append(out, samPolicyTemplates[n.Content[i].Value]...)
				walk(n.Content[i])
				walk(n.Content[i+1])
			}
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
