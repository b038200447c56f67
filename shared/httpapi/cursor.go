package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Cursors makes and reads opaque keyset-pagination cursors. A cursor is the JSON of the position, followed
// by an HMAC tag, in base64url; clients cannot read its insides meaningfully nor forge or alter one.
type Cursors struct {
	key []byte
}

// NewCursors returns a codec keyed by secret, which should be at least 32 random bytes.
func NewCursors(secret []byte) *Cursors {
	return &Cursors{key: secret}
}

const tagLen = 16

// Encode returns the cursor for position v (any JSON-encodable value, usually a small struct holding the
// sort key and id of the last row served).
func (c *Cursors) Encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	b = append(b, c.tag(b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode reads a cursor made by Encode into v. A cursor that was altered (even to another spelling of the
// same bytes), truncated, or made with another key is a CodeInvalid *Error naming the cursor parameter.
func (c *Cursors) Decode(s string, v any) error {
	bad := Invalid(FieldProblem{Field: "cursor", Reason: "is not a cursor this API issued"})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	// The decoder ignores line breaks and the unused bits of the last character; only the one string
	// Encode makes for these bytes is a cursor.
	if err != nil || len(raw) <= tagLen || base64.RawURLEncoding.EncodeToString(raw) != s {
		return bad
	}
	body, tag := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	if !hmac.Equal(tag, c.tag(body)) {
		return bad
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.Join(bad, err)
	}
	return nil
}

// DecodeCursor reads the ?cursor= value s of a keyset listing into a new T. An empty s asks for the first
// page: nil and no error. A cursor Decode refuses, or one whose position valid rejects (valid may be nil
// to accept any), is the CodeInvalid *Error naming the cursor parameter.
func DecodeCursor[T any](c *Cursors, s string, valid func(T) bool) (*T, error) {
	if s == "" {
		return nil, nil
	}
	v := new(T)
	if err := c.Decode(s, v); err != nil {
		return nil, err
	}
	if valid != nil && !valid(*v) {
		return nil, Invalid(FieldProblem{Field: "cursor", Reason: "is not a cursor this API issued"})
	}
	return v, nil
}

func (c *Cursors) tag(b []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	return m.Sum(nil)[:tagLen]
}
