package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/idempotency"
	"github.com/rocker-app/corral/shared/idempotency/storetest"
)

// testClient returns the SDK's DynamoDB client for the local DynamoDB server at DYNAMODB_ENDPOINT, for
// setting up and inspecting tables (the store itself speaks JSON through storeClient). Without a server
// the test fails (never skips) with a line saying how to start it.
func testClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	endpoint := testEndpoint(t)
	cfg := awsenv.Config(os.Getenv, awsenv.Options{Region: "us-east-1", Endpoint: endpoint})
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// storeClient returns the store's own client for the local DynamoDB server.
func storeClient(t testing.TB) *awsjson.Client {
	t.Helper()
	return dynamo.NewClient("us-east-1", testEndpoint(t))
}

func testEndpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Fatal("DYNAMODB_ENDPOINT is not set: run the tests with `make test`, or `bash infra/scripts/services.sh up && eval \"$(bash infra/scripts/services.sh env)\"`")
	}
	return endpoint
}

// newTable creates an idempotency table of this test's own, with the key schema template.yaml declares,
// and deletes it in t.Cleanup.
func newTable(t testing.TB, c *dynamodb.Client) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "corral-test-idempotency-" + hex.EncodeToString(b[:])
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(dynamo.KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(dynamo.KeyAttribute), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table %s at %s: %v", name, os.Getenv("DYNAMODB_ENDPOINT"), err)
	}
	t.Cleanup(func() {
		if _, err := c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	for i := 0; ; i++ {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return name
		}
		if i == 200 {
			t.Fatalf("table %s is still %s", name, out.Table.TableStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newKeyFunc makes keys unique to one test: a fresh tenant, user and client key each time.
func newKeyFunc(anonymous bool) idempotency.Key {
	k := idempotency.Key{Route: "POST /horses", Key: "key-" + uuid.NewString()}
	if !anonymous {
		k.TenantID, k.UserID = uuid.NewString(), uuid.NewString()
	}
	return k
}

func TestIdempotencyStoreConformance(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	store := dynamo.NewIdempotencyStore(storeClient(t), newTable(t, c))
	storetest.Run(t, func(t *testing.T) (idempotency.Store, func(bool) idempotency.Key) {
		return store, newKeyFunc
	})
}

// Keys whose parts would run together under a naive separator are still different keys.
func TestIdempotencyStoreKeysAreUnambiguous(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	store := dynamo.NewIdempotencyStore(storeClient(t), newTable(t, c))
	ctx := context.Background()
	suffix := uuid.NewString()
	keys := []idempotency.Key{
		{UserID: "a|b", Route: "POST /x", Key: "k" + suffix},
		{UserID: "a", Route: "b|POST /x", Key: "k" + suffix},
		{UserID: "a:", Route: "POST /x", Key: "k" + suffix},
		{UserID: "a", Route: ":POST /x", Key: "k" + suffix},
		{UserID: "1:a", Route: "POST /x", Key: "k" + suffix},
		{UserID: "", Route: "1:a4:POST /x", Key: "k" + suffix},
	}
	for _, k := range keys {
		out, err := store.Begin(ctx, k, []byte("h"), time.Minute, time.Hour)
		if err != nil {
			t.Fatalf("%+v: %v", k, err)
		}
		if out.Lease == "" {
			t.Errorf("%+v shares a record with an earlier key: %+v", k, out)
		}
	}
}

// The item carries the TTL attribute in epoch seconds, never before the record's expiry, so DynamoDB's TTL
// deletion removes it only once it no longer matters; a completed record drops its lease.
func TestIdempotencyStoreItemAttributes(t *testing.T) {
	t.Parallel()
	c := testClient(t)
	table := newTable(t, c)
	store := dynamo.NewIdempotencyStore(storeClient(t), table)
	ctx := context.Background()
	k := newKeyFunc(false)
	const ttl = 90 * time.Minute
	before := time.Now()
	out, err := store.Begin(ctx, k, []byte("h"), time.Minute, ttl)
	if err != nil || out.Lease == "" {
		t.Fatalf("Begin = %+v, %v", out, err)
	}
	after := time.Now()
	item := onlyItem(t, c, table)
	ttlAttr, ok := item[dynamo.TTLAttribute].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item has no numeric %s attribute: %v", dynamo.TTLAttribute, item)
	}
	got, err := strconv.ParseInt(ttlAttr.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(ttl).Unix(), after.Add(ttl).Unix()+1; got < lo || got > hi {
		t.Errorf("%s = %d, want within [%d, %d] (epoch seconds of the expiry)", dynamo.TTLAttribute, got, lo, hi)
	}
	if _, ok := item["lease_token"]; !ok {
		t.Errorf("in-flight item has no lease token: %v", item)
	}

	if err := store.Complete(ctx, k, out.Lease, idempotency.Record{Status: 204}); err != nil {
		t.Fatal(err)
	}
	item = onlyItem(t, c, table)
	if _, ok := item["lease_token"]; ok {
		t.Errorf("completed item still has a lease token: %v", item)
	}
	if _, ok := item[dynamo.TTLAttribute]; !ok {
		t.Errorf("completed item lost its TTL: %v", item)
	}
	again, err := store.Begin(ctx, k, []byte("h"), time.Minute, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if again.Completed == nil || again.Completed.Status != 204 || len(again.Completed.Body) != 0 {
		t.Fatalf("replay of an empty 204 = %+v", again)
	}
}

// A key scope past DynamoDB's 2 KB partition-key limit is refused before any request.
func TestIdempotencyStoreRefusesOversizedKeys(t *testing.T) {
	t.Parallel()
	store := dynamo.NewIdempotencyStore(storeClient(t), "no-such-table")
	k := idempotency.Key{Route: string(make([]byte, 2100)), Key: "k"}
	if _, err := store.Begin(context.Background(), k, []byte("h"), time.Minute, time.Hour); err == nil {
		t.Fatal("Begin with a 2 KB route succeeded")
	}
}

func onlyItem(t testing.TB, c *dynamodb.Client, table string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("table has %d items, want 1", len(out.Items))
	}
	return out.Items[0]
}
