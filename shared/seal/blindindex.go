package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
)

// BlindIndex computes keyed HMAC-SHA256 indexes of values (email addresses), so that a column of
// ciphertext can be searched by equality without being decrypted: the database holds Index(value) beside
// the ciphertext, and a lookup asks for the rows whose index is among Candidates(value). Without the key
// an index reveals nothing but equality. Safe for concurrent use.
//
// An index starts with the id of its key (1 length byte, the id), then the 32-byte MAC. The first key
// computes new indexes; Candidates lists the value's index under every key, so lookups keep finding rows
// indexed before a rotation until they are re-indexed.
type BlindIndex struct {
	keys []namedKey
}

// minBlindIndexKeyLen is the least HMAC key size: the output size of SHA-256.
const minBlindIndexKeyLen = 32

// ParseBlindIndex reads a key list "b2:<base64>,b1:<base64>" (BLIND_INDEX_KEYS): ids of letters, digits,
// '-', '_' or '.', keys of at least 32 bytes in base64; the first is active. Errors name the bad entry,
// never a key.
func ParseBlindIndex(s string) (*BlindIndex, error) {
	keys, err := parseKeyList("BLIND_INDEX_KEYS", s, minBlindIndexKeyLen, false)
	if err != nil {
		return nil, err
	}
	return &BlindIndex{keys: keys}, nil
}

// Normalize is the form of a value that is indexed: surrounding white space removed, lower case. Two
// spellings of an email address that differ only so have the same index.
func Normalize(value string) string { return strings.ToLower(strings.TrimSpace(value)) }

// Index returns the index of Normalize(value) under the active key.
func (b *BlindIndex) Index(value string) []byte { return b.index(b.keys[0], Normalize(value)) }

// Candidates returns the indexes of Normalize(value) under every key, the active key's first: a row
// matches value when its index is any of them.
func (b *BlindIndex) Candidates(value string) [][]byte {
	v := Normalize(value)
	out := make([][]byte, len(b.keys))
	for i, k := range b.keys {
		out[i] = b.index(k, v)
	}
	return out
}

// Current reports whether index was computed with the active key; a row whose index is not current can
// be re-indexed with Index.
func (b *BlindIndex) Current(index []byte) bool {
	id := b.keys[0].id
	return len(index) > 1+len(id) && int(index[0]) == len(id) && string(index[1:1+len(id)]) == id
}

// blindIndexLabel separates these MACs from any other use of the keys.
const blindIndexLabel = "corral blind index v1\x00"

func (b *BlindIndex) index(k namedKey, v string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(blindIndexLabel))
	m.Write([]byte(v))
	out := make([]byte, 0, 1+len(k.id)+sha256.Size)
	out = append(out, byte(len(k.id)))
	out = append(out, k.id...)
	return m.Sum(out)
}
