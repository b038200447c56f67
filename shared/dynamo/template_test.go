package dynamo_test

import (
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// templateDoc is the part of template.yaml this test reads. Tagged values (!Ref X) keep their tag in the
// yaml.Node, which goformation would resolve away.
type templateDoc struct {
	Conditions map[string]yaml.Node `yaml:"Conditions"`
	Globals    struct {
		Function struct {
			Environment struct {
				Variables map[string]yaml.Node `yaml:"Variables"`
			} `yaml:"Environment"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]struct {
		Type       string    `yaml:"Type"`
		Condition  string    `yaml:"Condition"`
		Properties yaml.Node `yaml:"Properties"`
	} `yaml:"Resources"`
}

type attributeDefinition struct {
	AttributeName string `yaml:"AttributeName"`
	AttributeType string `yaml:"AttributeType"`
}

type keySchemaElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

type tableProps struct {
	BillingMode             string                `yaml:"BillingMode"`
	AttributeDefinitions    []attributeDefinition `yaml:"AttributeDefinitions"`
	KeySchema               []keySchemaElement    `yaml:"KeySchema"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
}

type policyProps struct {
	Roles          []yaml.Node `yaml:"Roles"`
	PolicyDocument struct {
		Statement []struct {
			Effect   string    `yaml:"Effect"`
			Action   []string  `yaml:"Action"`
			Resource yaml.Node `yaml:"Resource"`
		} `yaml:"Statement"`
	} `yaml:"PolicyDocument"`
}

// template.yaml declares the idempotency table the store expects (key and TTL attribute), only when the
// IdempotencyStore parameter is dynamodb, passes its name to every function, and grants item access to
// exactly the functions with an idempotent route.
func TestTemplateDeclaresTheIdempotencyTable(t *testing.T) {
	t.Parallel()
	file, err := samtemplate.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc templateDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	const cond = "UseDynamoDBIdempotency"
	if _, ok := doc.Conditions[cond]; !ok {
		t.Errorf("Conditions lack %s", cond)
	}
	if v, ok := doc.Globals.Function.Environment.Variables["IDEMPOTENCY_TABLE"]; !ok || v.Tag != "!If" {
		t.Errorf("Globals set IDEMPOTENCY_TABLE to %+v, want !If [%s, !Ref IdempotencyTable, \"\"]", v, cond)
	}

	table, ok := doc.Resources["IdempotencyTable"]
	if !ok || table.Type != "AWS::DynamoDB::Table" || table.Condition != cond {
		t.Fatalf("IdempotencyTable = %+v, want an AWS::DynamoDB::Table under Condition %s", table, cond)
	}
	var tp tableProps
	if err := table.Properties.Decode(&tp); err != nil {
		t.Fatal(err)
	}
	want := tableProps{
		BillingMode:          "PAY_PER_REQUEST",
		AttributeDefinitions: []attributeDefinition{{dynamo.KeyAttribute, "S"}},
		KeySchema:            []keySchemaElement{{dynamo.KeyAttribute, "HASH"}},
	}
	want.TimeToLiveSpecification.AttributeName, want.TimeToLiveSpecification.Enabled = dynamo.TTLAttribute, true
	if diff := cmp.Diff(want, tp); diff != "" {
		t.Errorf("IdempotencyTable properties (-want +got):\n%s", diff)
	}

	access, ok := doc.Resources["IdempotencyTableAccess"]
	if !ok || access.Type != "AWS::IAM::Policy" || access.Condition != cond {
		t.Fatalf("IdempotencyTableAccess = %+v, want an AWS::IAM::Policy under Condition %s", access, cond)
	}
	var pp policyProps
	if err := access.Properties.Decode(&pp); err != nil {
		t.Fatal(err)
	}
	if len(pp.PolicyDocument.Statement) != 1 || pp.PolicyDocument.Statement[0].Resource.Value != "IdempotencyTable.Arn" {
		t.Errorf("policy statements %+v, want one on !GetAtt IdempotencyTable.Arn", pp.PolicyDocument.Statement)
	} else if got := pp.PolicyDocument.Statement[0].Action; !slices.Equal(got, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}) {
		t.Errorf("policy actions %v, want the four item actions the store uses", got)
	}
	var roles []string
	for _, r := range pp.Roles {
		if r.Tag != "!Ref" {
			t.Errorf("role %q is not a !Ref", r.Value)
		}
		roles = append(roles, r.Value)
	}

	// The roles of the functions whose route tables have an idempotent route.
	tpl, err := samtemplate.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	env := platformtest.New(t)
	var wantRoles []string
	for name, fn := range catalog.HTTP() {
		idempotent := slices.ContainsFunc(fn(env.Deps), func(r platform.Route) bool { return r.Idempotency != platform.IdempotencyNone })
		if !idempotent {
			continue
		}
		f, ok := tpl.Function(name)
		if !ok {
			t.Errorf("catalog function %s is not in template.yaml", name)
			continue
		}
		wantRoles = append(wantRoles, f.LogicalID+"Role")
	}
	slices.Sort(wantRoles)
	slices.Sort(roles)
	if diff := cmp.Diff(wantRoles, roles); diff != "" {
		t.Errorf("IdempotencyTableAccess Roles (-want +got): list the <LogicalId>Role of every function with an idempotent route\n%s", diff)
	}
}
