package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/awsjson"
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
	client *awsjson.Client
	table  string
}

var _ idempotency.Store = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store on the given table of client (a DynamoDB client, see NewClient). It
// makes no request.
func NewIdempotencyStore(client *awsjson.Client, table string) *IdempotencyStore {
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
		err := s.client.Call(ctx, "PutItem", putItemInput{
			TableName: s.table,
			Item: item{
				KeyAttribute:   str(pk),
				attrHash:       bin(requestHash),
				attrStatus:     str(statusInFlight),
				attrLease:      str(token),
				attrLeaseUntil: num(now.Add(lease).UnixMilli()),
				attrExpires:    num(expires.UnixMilli()),
				TTLAttribute:   num(epochSecondsCeil(expires)),
			},
			ConditionExpression: beginCondition,
			ExpressionAttributeNames: map[string]string{
				"#pk": KeyAttribute, "#expires": attrExpires, "#status": attrStatus,
				"#lease_until": attrLeaseUntil, "#hash": attrHash,
			},
			ExpressionAttributeValues: item{
				":now":       num(now.UnixMilli()),
				":in_flight": str(statusInFlight),
				":hash":      bin(requestHash),
			},
			ReturnValuesOnConditionCheckFailure: "ALL_OLD",
		}, nil)
		if err == nil {
			return idempotency.Outcome{Lease: token}, nil
		}
		old, failed := conditionFailed(err)
		if !failed {
			return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
		}
		if len(old) == 0 { // servers that do not return the item on a failed condition
			if old, err = s.get(ctx, pk); err != nil {
				return idempotency.Outcome{}, fmt.Errorf("idempotency: begin: %w", err)
			}
		}
		out, retry, err := outcome(old, requestHash, time.Now())
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
func outcome(it item, requestHash []byte, now time.Time) (out idempotency.Outcome, retry bool, err error) {
	if len(it) == 0 {
		return out, true, nil
	}
	expires, err := it.num(attrExpires)
	if err != nil {
		return out, false, err
	}
	if expires <= now.UnixMilli() {
		return out, true, nil
	}
	if hash := it[attrHash].B; hash == nil || !bytes.Equal(hash, requestHash) {
		return idempotency.Outcome{Mismatch: true}, false, nil
	}
	if status := it[attrStatus].S; status != nil && *status == statusCompleted {
		rec, err := record(it)
		if err != nil {
			return out, false, err
		}
		return idempotency.Outcome{Completed: rec}, false, nil
	}
	leaseUntil, err := it.num(attrLeaseUntil)
	if err != nil {
		return out, false, err
	}
	if leaseUntil <= now.UnixMilli() {
		return out, true, nil
	}
	return idempotency.Outcome{InFlight: true}, false, nil
}

func record(it item) (*idempotency.Record, error) {
	code, err := it.num(attrRespStatus)
	if err != nil {
		return nil, err
	}
	rec := &idempotency.Record{Status: int(code), Header: http.Header{}, Body: []byte{}}
	if h := it[attrRespHeaders].S; h != nil && *h != "" {
		if err := json.Unmarshal([]byte(*h), &rec.Header); err != nil {
			return nil, fmt.Errorf("stored headers: %w", err)
		}
		if rec.Header == nil {
			rec.Header = http.Header{}
		}
	}
	if b := it[attrRespBody].B; b != nil {
		rec.Body = b
	}
	return rec, nil
}

func (s *IdempotencyStore) get(ctx context.Context, pk string) (item, error) {
	var out struct{ Item item }
	err := s.client.Call(ctx, "GetItem", getItemInput{TableName: s.table, Key: item{KeyAttribute: str(pk)}, ConsistentRead: true}, &out)
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
	values := item{
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
		values[":body"] = bin(rec.Body)
	}
	update += " REMOVE #lease, #lease_until"
	err = s.client.Call(ctx, "UpdateItem", updateItemInput{
		TableName:                 s.table,
		Key:                       item{KeyAttribute: str(pk)},
		UpdateExpression:          update,
		ConditionExpression:       leaseCondition,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil)
	if _, failed := conditionFailed(err); failed {
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
	err = s.client.Call(ctx, "DeleteItem", deleteItemInput{
		TableName:                 s.table,
		Key:                       item{KeyAttribute: str(pk)},
		ConditionExpression:       leaseCondition,
		ExpressionAttributeNames:  map[string]string{"#status": attrStatus, "#lease": attrLease},
		ExpressionAttributeValues: item{":in_flight": str(statusInFlight), ":token": str(leaseToken)},
	}, nil)
	if _, failed := conditionFailed(err); err != nil && !failed {
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

// epochSecondsCeil rounds t up to whole epoch seconds, so TTL deletion never comes before the expiry.
func epochSecondsCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
