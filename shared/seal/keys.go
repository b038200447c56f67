package seal

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// namedKey is one key of a key list: its id, as stored beside what it protects, and its bytes.
type namedKey struct {
	id  string
	key []byte
}

// maxKeyIDLen bounds a key id: it is stored with every ciphertext and blind index.
const maxKeyIDLen = 64

// parseKeyList reads "id:<base64>,id:<base64>,..." (the first is the active key). Ids are 1–64 characters
// of letters, digits, '-', '_' and '.', unique in the list; keys are standard or URL-safe base64, padded or
// not, of at least minLen bytes (exactly minLen when exact). Errors name the variable and the key's id or
// position, never the key.
func parseKeyList(name, s string, minLen int, exact bool) ([]namedKey, error) {
	var keys []namedKey
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, enc, ok := strings.Cut(item, ":")
		id = strings.TrimSpace(id)
		if !ok || !validKeyID(id) {
			return nil, fmt.Errorf("seal: %s: entry %d must be id:<base64 key> with an id of letters, digits, '-', '_' or '.' (at most %d)", name, i+1, maxKeyIDLen)
		}
		if seen[id] {
			return nil, fmt.Errorf("seal: %s: key id %q appears twice", name, id)
		}
		seen[id] = true
		key, err := decodeKey(strings.TrimSpace(enc))
		switch {
		case err != nil:
			return nil, fmt.Errorf("seal: %s: key %q is not base64", name, id)
		case exact && len(key) != minLen:
			return nil, fmt.Errorf("seal: %s: key %q must be %d bytes, got %d", name, id, minLen, len(key))
		case len(key) < minLen:
			return nil, fmt.Errorf("seal: %s: key %q must be at least %d bytes, got %d", name, id, minLen, len(key))
		}
		keys = append(keys, namedKey{id: id, key: key})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("seal: %s: no key", name)
	}
	return keys, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func decodeKey(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}
