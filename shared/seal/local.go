package seal

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
)

// LocalKeys is a KeyProvider whose key-encryption keys come from configuration (PII_LOCAL_KEYS): for
// development, tests, and deployments without KMS. Data keys are wrapped with AES-256-GCM, the key id as
// additional data. Safe for concurrent use.
type LocalKeys struct {
	active string
	keys   map[string]cipher.AEAD
}

var _ KeyProvider = (*LocalKeys)(nil)

// ParseLocalKeys reads a key list "k2:<base64>,k1:<base64>": ids of letters, digits, '-', '_' or '.',
// each key exactly 32 bytes in base64 (e.g. `openssl rand -base64 32`). The first key wraps new data keys;
// all of them unwrap. To rotate, put a new key first and keep the old ones until nothing sealed under them
// remains (see KeyID). Errors name the bad entry, never a key.
func ParseLocalKeys(s string) (*LocalKeys, error) {
	list, err := parseKeyList("PII_LOCAL_KEYS", s, dataKeyLen, true)
	if err != nil {
		return nil, err
	}
	lk := &LocalKeys{active: list[0].id, keys: make(map[string]cipher.AEAD, len(list))}
	for _, k := range list {
		if lk.keys[k.id], err = newAEAD(k.key); err != nil {
			return nil, err
		}
	}
	return lk, nil
}

// ActiveKeyID returns the id of the key that wraps new data keys.
func (lk *LocalKeys) ActiveKeyID() string { return lk.active }

// GenerateDataKey implements KeyProvider; it does not fail.
func (lk *LocalKeys) GenerateDataKey(context.Context) (plaintext, wrapped []byte, kekID string, err error) {
	plaintext = make([]byte, dataKeyLen)
	_, _ = rand.Read(plaintext)
	aead := lk.keys[lk.active]
	nonce := make([]byte, nonceLen, nonceLen+dataKeyLen+tagLen)
	_, _ = rand.Read(nonce)
	return plaintext, aead.Seal(nonce, nonce, plaintext, []byte(lk.active)), lk.active, nil
}

// Decrypt implements KeyProvider.
func (lk *LocalKeys) Decrypt(_ context.Context, kekID string, wrapped []byte) ([]byte, error) {
	aead, ok := lk.keys[kekID]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(wrapped) < nonceLen+tagLen {
		return nil, ErrInvalidCiphertext
	}
	pt, err := aead.Open(nil, wrapped[:nonceLen], wrapped[nonceLen:], []byte(kekID))
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return pt, nil
}
