package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/idempotency"
)

// The idempotency table's schema. template.yaml declares the table with KeyAttribute as its only key (a
// string) and TTLAttribute as its time-to-live attribute; a test checks that they agree.
const (
	// KeyAttribute is the partition key: tenant, user, route and client key joined unambiguously.
	KeyAttribute = "pk"
	// TTLAttribute holds the record's expiry in epoch seconds, for DynamoDB's TTL deletion. Deletion lags
	// (typically within a few days), so every read also checks the expiry itself.
	TTLAttribute = "ttl"
)

// Item attributes besides the key and the TTL. Times are epoch milliseconds, compared with this
// process's clock: Lambda hosts keep theirs synchronised, and a lease or a TTL is far longer than any
// skew between them.
const (
	attrHash          = "request_hash"
	attrStatus        = "status" // in_flight or completed
	attrLease         = "lease_token"
	attrLeaseUntil    = "lease_until_ms"
	attrExpires       = "expires_ms"
	attrRespStatus    = "response_status"
	attrRespHeaders   = "response_headers" // JSON
	attrRespBody      = "response_body"
	statusInFlight    = "in_flight"
	statusCompleted   = "completed"
	maxPartitionBytes = 2048 // DynamoDB's limit on a partition key
	beginAttempts     = 4
)

// IdempotencyStore keeps idempotency records in a DynamoDB table, one item per key. Every change is a
// single conditional write, so of any number of concurrent first requests exactly one takes the lease,
// and only the holder of the lease token can complete or release it.
//
// Items are limited to 400 KB by DynamoDB: a response too large to store makes Complete fail (the
// middleware logs it; the response itself was already sent), and a retry then runs again.
type IdempotencyStore struct {
	client *dynamodb.Client
	table  string
}

var _ idempotency.Store = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store on the given table of client. It makes no request.
func NewIdempotencyStore(client *dynamodb.Client, table string) *IdempotencyStore {
	return &IdempotencyStore{client: client, table: table}
}

// beginCondition lets the put through when there is no item, when the item has expired (TTL deletion
// lags), or when an identical request's lease has run out: the same three cases as the Postgres store.
const beginCondition = `attribute_not_exists(#pk) OR #expires <= :now OR ` +
	`(#status = :in_flight AND #lease_until <= :now AND #hash = :hash)`

// Begin implements idempotency.Store. Errors from DynamoDB are returned wrapped with %w.
func (s *IdempotencyStore) Begin(ctx context.Context, k idempotency.Key, requestHash []byte, lease, ttl time.Duration) (idempotency.Outcome, error) {
	pk, err := partitionKey(k)
	if err != nil {
		return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
	}
	token := uuid.NewString()
	for range beginAttempts {
		now := time.Now()
		expires := now.Add(ttl)
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table),
			Item: map[string]types.AttributeValue{
				KeyAttribute:   str(pk),
				attrHash:       &types.AttributeValueMemberB{Value: requestHash},
				attrStatus:     str(statusInFlight),
				attrLease:      str(token),
				attrLeaseUntil: num(now.Add(lease).UnixMilli()),
				attrExpires:    num(expires.UnixMilli()),
				TTLAttribute:   num(epochSecondsCeil(expires)),
			},
			ConditionExpression: aws.String(beginCondition),
			ExpressionAttributeNames: map[string]string{
				"#pk": KeyAttribute, "#expires": attrExpires, "#status": attrStatus,
				"#lease_until": attrLeaseUntil, "#hash": attrHash,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":       num(now.UnixMilli()),
				":in_flight": str(statusInFlight),
				":hash":      &types.AttributeValueMemberB{Value: requestHash},
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return idempotency.Outcome{Lease: token}, nil
		}
		var failed *types.ConditionalCheckFailedException
		if !errors.As(err, &failed) {
			return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
		}
		item := failed.Item
		if len(item) == 0 { // servers that do not return the item on a failed condition
			if item, err = s.get(ctx, pk); err != nil {
				return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
			}
		}
		out, retry, err := outcome(item, requestHash, time.Now())
		if err != nil {
			return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
		}
		if !retry {
			return out, nil
		}
		// The item changed between the failed put and the read (released, expired or taken over): try again.
	}
	return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: key %q still contended after %d attempts", k.Key, beginAttempts)
}

// outcome reads an existing item as the answer to Begin. retry is true when the item no longer stands in
// the way (gone, expired, or an identical request's lease ran out), so the put should be tried again.
func outcome(item map[string]types.AttributeValue, requestHash []byte, now time.Time) (out idempotency.Outcome, retry bool, err error) {
	if len(item) == 0 {
		return out, true, nil
	}
	expires, err := getNum(item, attrExpires)
	if err != nil {
		return out, false, err
	}
	if expires <= now.UnixMilli() {
		return out, true, nil
	}
	hash, _ := item[attrHash].(*types.AttributeValueMemberB)
	if hash == nil || !bytes.Equal(hash.Value, requestHash) {
		return idempotency.Outcome{Mismatch: true}, false, nil
	}
	status, _ := item[attrStatus].(*types.AttributeValueMemberS)
	if status != nil && status.Value == statusCompleted {
		rec, err := record(item)
		if err != nil {
			return out, false, err
		}
		return idempotency.Outcome{Completed: rec}, false, nil
	}
	leaseUntil, err := getNum(item, attrLeaseUntil)
	if err != nil {
		return out, false, err
	}
	if leaseUntil <= now.UnixMilli() {
		return out, true, nil
	}
	return idempotency.Outcome{InFlight: true}, false, nil
}

func record(item map[string]types.AttributeValue) (*idempotency.Record, error) {
	code, err := getNum(item, attrRespStatus)
	if err != nil {
		return nil, err
	}
	rec := &idempotency.Record{Status: int(code), Header: http.Header{}, Body: []byte{}}
	if h, ok := item[attrRespHeaders].(*types.AttributeValueMemberS); ok && h.Value != "" {
		if err := json.Unmarshal([]byte(h.Value), &rec.Header); err != nil {
			return nil, fmt.Errorf("stored headers: %w", err)
		}
		if rec.Header == nil {
			rec.Header = http.Header{}
		}
	}
	if b, ok := item[attrRespBody].(*types.AttributeValueMemberB); ok && b.Value != nil {
		rec.Body = b.Value
	}
	return rec, nil
}

func (s *IdempotencyStore) get(ctx context.Context, pk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{KeyAttribute: str(pk)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// leaseCondition holds when the item is the in-flight attempt of this lease token.
const leaseCondition = `#status = :in_flight AND #lease = :token`

// Complete implements idempotency.Store: ErrLeaseLost when leaseToken no longer holds the lease, other
// errors wrapped with %w.
func (s *IdempotencyStore) Complete(ctx context.Context, k idempotency.Key, leaseToken string, rec idempotency.Record) error {
	pk, err := partitionKey(k)
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	headers, err := json.Marshal(rec.Header)
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	values := map[string]types.AttributeValue{
		":completed": str(statusCompleted),
		":code":      num(int64(rec.Status)),
		":headers":   str(string(headers)),
		":in_flight": str(statusInFlight),
		":token":     str(leaseToken),
	}
	update := "SET #status = :completed, #code = :code, #headers = :headers"
	names := map[string]string{"#status": attrStatus, "#code": attrRespStatus, "#headers": attrRespHeaders, "#lease": attrLease, "#lease_until": attrLeaseUntil}
	if len(rec.Body) > 0 {
		update += ", #body = :body"
		names["#body"] = attrRespBody
		values[":body"] = &types.AttributeValueMemberB{Value: rec.Body}
	}
	update += " REMOVE #lease, #lease_until"
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: str(pk)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(leaseCondition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return idempotency.ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	return nil
}

// Release implements idempotency.Store: it deletes the item if leaseToken still holds it. A lease already
// lost is not an error; DynamoDB errors are returned wrapped with %w.
func (s *IdempotencyStore) Release(ctx context.Context, k idempotency.Key, leaseToken string) error {
	pk, err := partitionKey(k)
	if err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{KeyAttribute: str(pk)},
		ConditionExpression:       aws.String(leaseCondition),
		ExpressionAttributeNames:  map[string]string{"#status": attrStatus, "#lease": attrLease},
		ExpressionAttributeValues: map[string]types.AttributeValue{":in_flight": str(statusInFlight), ":token": str(leaseToken)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}

// partitionKey joins tenant, user, route and key, each prefixed by its length in bytes, so no two keys
// share a partition key however their parts are chosen: "36:<tenant>36:<user>12:POST /horses8:<key>".
func partitionKey(k idempotency.Key) (string, error) {
	var b []byte
	for _, part := range []string{k.TenantID, k.UserID, k.Route, k.Key} {
		b = strconv.AppendInt(b, int64(len(part)), 10)
		b = append(b, ':')
		b = append(b, part...)
	}
	if len(b) > maxPartitionBytes {
		return "", fmt.Errorf("key scope is %d bytes, over DynamoDB's %d", len(b), maxPartitionBytes)
	}
	return string(b), nil
}

func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func getNum(item map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("stored item has no number %s", name)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stored item: %s: %w", name, err)
	}
	return n, nil
}

// epochSecondsCeil rounds t up to whole epoch seconds, so TTL deletion never comes before the expiry.
func epochSecondsCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
