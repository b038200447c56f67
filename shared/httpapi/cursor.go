package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"sync"
)

// Cursors makes and reads opaque keyset-pagination cursors. A cursor is the JSON of the position, followed
// by an HMAC tag, in base64url; clients cannot read its insides meaningfully nor forge or alter one.
type Cursors struct {
	macs sync.Pool // of keyed HMAC-SHA256 hashes, reused: hmac.New costs a dozen allocations
}

// NewCursors returns a codec keyed by secret, which should be at least 32 random bytes.
func NewCursors(secret []byte) *Cursors {
	key := append([]byte(nil), secret...)
	return &Cursors{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

const tagLen = 16

// Encode returns the cursor for position v (any JSON-encodable value, usually a small struct holding the
// sort key and id of the last row served).
func (c *Cursors) Encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var tag [sha256.Size]byte
	b = append(b, c.tag(tag[:0], b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode reads a cursor made by Encode into v. A cursor that was altered (even to another spelling of the
// same bytes), truncated, or made with another key is a CodeInvalid *Error naming the cursor parameter.
func (c *Cursors) Decode(s string, v any) error {
	bad := func() *Error {
		return Invalid(FieldProblem{Field: "cursor", Reason: "is not a cursor this API issued"})
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= tagLen {
		return bad()
	}
	// The decoder ignores line breaks and the unused bits of the last character; only the one string
	// Encode makes for these bytes is a cursor.
	var again [256]byte
	if !bytes.Equal(base64.RawURLEncoding.AppendEncode(again[:0], raw), []byte(s)) {
		return bad()
	}
	body, tag := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	var want [sha256.Size]byte
	if !hmac.Equal(tag, c.tag(want[:0], body)) {
		return bad()
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.Join(bad(), err)
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

// tag appends the tag of b to dst.
func (c *Cursors) tag(dst, b []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(b)
	dst = m.Sum(dst)[:len(dst)+tagLen]
	c.macs.Put(m)
	return dst
}
