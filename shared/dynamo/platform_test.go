package dynamo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
)

// With IDEMPOTENCY_STORE=dynamodb a function keeps its idempotency records in the DynamoDB table: a
// repeated create is replayed from there, and Postgres's idempotency_keys stays empty.
func TestPlatformChoosesTheDynamoDBStore(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	table := newTable(t, c)
	env := platformtest.New(t, func(cfg *config.Config) {
		cfg.IdempotencyStore = "dynamodb"
		cfg.IdempotencyTable = table
		cfg.DynamoDBEndpoint = os.Getenv("DYNAMODB_ENDPOINT")
	})
	if _, ok := env.Deps.Idempotency.(*dynamo.IdempotencyStore); !ok {
		t.Fatalf("Deps.Idempotency = %T; want the DynamoDB store", env.Deps.Idempotency)
	}
	h := platform.Handler(env.Deps, catalog.Horses(env.Deps))
	tn := env.NewTenant(t, "dynamo")
	token := env.Token(t, tn.ID, tn.OwnerID, "owner")

	create := func() *platformtest.Response {
		req := httptest.NewRequest(http.MethodPost, "/horses", strings.NewReader(`{"name":"Comet","sex":"mare"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "dynamo-once")
		return platformtest.Do(t, h, req, token)
	}
	first, second := create(), create()
	if first.Status != http.StatusCreated {
		t.Fatalf("first create: %d %s", first.Status, first.Body)
	}
	if second.Status != http.StatusCreated || string(second.Body) != string(first.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("second create = %d %q (replayed %q), want the first replayed: %s", second.Status, second.Header.Get("Idempotent-Replayed"), second.Body, first.Body)
	}

	out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Errorf("DynamoDB table has %d items, want 1", len(out.Items))
	}
	var rows, horses int
	if err := env.DB.Owner.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM horses WHERE tenant_id = $1)`, tn.ID).Scan(&rows, &horses); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || horses != 1 {
		t.Errorf("idempotency_keys rows = %d, horses = %d; want 0 and 1", rows, horses)
	}
}
