package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/rocker-app/corral/shared/awsjson"
)

// The requests of the DynamoDB API (version 2012-08-10) that the store sends, in its JSON protocol:
// only the members the store uses.

type putItemInput struct {
	TableName                           string
	Item                                item
	ConditionExpression                 string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           item
	ReturnValuesOnConditionCheckFailure string `json:",omitempty"`
}

type getItemInput struct {
	TableName      string
	Key            item
	ConsistentRead bool
}

type updateItemInput struct {
	TableName                 string
	Key                       item
	UpdateExpression          string
	ConditionExpression       string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues item
}

type deleteItemInput struct {
	TableName                 string
	Key                       item
	ConditionExpression       string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues item
}

// item is a DynamoDB item (or a key, or expression values) by attribute name.
type item map[string]attributeValue

// attributeValue is one attribute value of the JSON protocol, {"S": "text"}, {"N": "12"} or
// {"B": "<base64>"}: exactly one member is set. Values of other types decode to the zero value, which
// the store treats as missing.
type attributeValue struct {
	S *string `json:",omitzero"`
	N *string `json:",omitzero"` // numbers travel as decimal strings
	B []byte  `json:",omitzero"` // non-nil when set, possibly empty
}

func str(s string) attributeValue { return attributeValue{S: &s} }

func num(n int64) attributeValue {
	s := strconv.FormatInt(n, 10)
	return attributeValue{N: &s}
}

func bin(b []byte) attributeValue {
	if b == nil {
		b = []byte{}
	}
	return attributeValue{B: b}
}

// num returns the number attribute name of the item, or an error naming it when it is missing or not an
// integer.
func (it item) num(name string) (int64, error) {
	v := it[name].N
	if v == nil {
		return 0, fmt.Errorf("stored item has no number %s", name)
	}
	n, err := strconv.ParseInt(*v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stored item: %s: %w", name, err)
	}
	return n, nil
}

// conditionFailed reports whether err is DynamoDB's ConditionalCheckFailedException, with the existing
// item when the request asked for it (ReturnValuesOnConditionCheckFailure) and the server sent it.
func conditionFailed(err error) (old item, ok bool) {
	var e *awsjson.Error
	if !errors.As(err, &e) || e.Type != "ConditionalCheckFailedException" {
		return nil, false
	}
	var body struct{ Item item }
	_ = json.Unmarshal(e.Body, &body) // no item (or an unreadable one) means: read it
	return body.Item, true
}
