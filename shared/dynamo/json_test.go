package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/awsjson"
)

// Attribute values encode as DynamoDB's JSON protocol has them; an empty binary stays a binary.
func TestAttributeValueJSON(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(item{"s": str("x"), "n": num(-12), "b": bin([]byte("hi")), "e": bin(nil)})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"b":{"B":"aGk="},"e":{"B":""},"n":{"N":"-12"},"s":{"S":"x"}}`
	if string(got) != want {
		t.Errorf("item JSON = %s, want %s", got, want)
	}
	var back item
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if n, err := back.num("n"); n != -12 || err != nil || *back["s"].S != "x" || string(back["b"].B) != "hi" || back["e"].B == nil {
		t.Errorf("decoded %+v (num %d, %v)", back, n, err)
	}
	if _, err := back.num("s"); err == nil {
		t.Error("num of a string attribute succeeded")
	}
}

// DynamoDB answers a failed condition with ReturnValuesOnConditionCheckFailure=ALL_OLD by putting the
// item in the error body (dynalite, which the other tests use, sends none, and the store then reads it).
func TestConditionFailed(t *testing.T) {
	t.Parallel()
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed",` +
		`"Item":{"pk":{"S":"k"},"status":{"S":"in_flight"},"expires_ms":{"N":"99"},"request_hash":{"B":"aA=="},"tags":{"L":[]}}}`
	err := fmt.Errorf("wrapped: %w", &awsjson.Error{Status: 400, Type: "ConditionalCheckFailedException", Body: []byte(body)})
	old, ok := conditionFailed(err)
	if !ok {
		t.Fatal("not recognised as a failed condition")
	}
	want := item{"pk": str("k"), "status": str(statusInFlight), "expires_ms": num(99), "request_hash": bin([]byte("h")), "tags": {}}
	if diff := cmp.Diff(want, old); diff != "" {
		t.Errorf("old item (-want +got):\n%s", diff)
	}
	if old, ok := conditionFailed(&awsjson.Error{Status: 400, Type: "ConditionalCheckFailedException", Body: []byte(`{"message":"x"}`)}); !ok || old != nil {
		t.Errorf("without an item: %v, %v; want nil, true", old, ok)
	}
	for _, other := range []error{nil, errors.New("network"), &awsjson.Error{Status: 400, Type: "ValidationException"}} {
		if _, ok := conditionFailed(other); ok {
			t.Errorf("conditionFailed(%v) = true", other)
		}
	}
}
