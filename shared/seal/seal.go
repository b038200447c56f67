// Package seal encrypts personal data at rest (envelope encryption) and indexes it for lookups without
// decrypting (blind indexes).
//
// A Sealer encrypts each value with AES-256-GCM under a data key; the data key is itself encrypted
// ("wrapped") by a key-encryption key that a KeyProvider holds: AWS KMS in the cloud (package sealkms), keys from the
// environment in development and tests (LocalKeys). Every ciphertext names its key-encryption key and
// carries its wrapped data key, so it can be opened after the provider's active key changes: rotating means
// adding a new key in front and keeping the old ones for reading.
//
// Like the AWS Encryption SDK's caching materials manager, a Sealer reuses one data key for a bounded number
// of values and a bounded time, and remembers unwrapped data keys, so sealing and opening do not call KMS
// per value.
//
// Ciphertext layout (version 1), all lengths in bytes:
//
//	1  version (1)
//	1  n, the length of the key-encryption key id
//	n  key-encryption key id
//	2  m, the length of the wrapped data key (big-endian)
//	m  wrapped data key
//	12 nonce
//	*  AES-256-GCM ciphertext and 16-byte tag
//
// The GCM additional data is the header (everything before the nonce) followed by the caller's aad, so the
// header cannot be altered and a ciphertext opens only for the aad it was sealed with: bind it to its place
// (table, column, tenant, row) with AAD, and values cannot be moved between rows or columns.
package seal

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of Open and of KeyProviders. Neither error, nor any other of this package, includes plaintext
// or key material.
var (
	// ErrInvalidCiphertext: the ciphertext is malformed, was altered, or was sealed with another aad (or
	// under another key with the same id).
	ErrInvalidCiphertext = errors.New("seal: invalid ciphertext")
	// ErrUnknownKey: the ciphertext names a key-encryption key the provider does not have.
	ErrUnknownKey = errors.New("seal: unknown key")
)

// KeyProvider holds key-encryption keys. Implementations are safe for concurrent use.
//
// GenerateDataKey returns a new random 32-byte data key in clear and wrapped, and the id of the
// key-encryption key that wrapped it; errors are unexpected failures (KMS unreachable, denied). Decrypt
// unwraps a data key wrapped by the key kekID; it returns ErrUnknownKey when the provider has no such key,
// ErrInvalidCiphertext when wrapped does not authenticate under it, and other errors for failures that
// may pass.
type KeyProvider interface {
	GenerateDataKey(ctx context.Context) (plaintext, wrapped []byte, kekID string, err error)
	Decrypt(ctx context.Context, kekID string, wrapped []byte) ([]byte, error)
}

// Defaults of the data-key caches.
const (
	// DefaultMaxAge is how long a data key seals new values, and how long an unwrapped data key is
	// remembered for opening.
	DefaultMaxAge = 5 * time.Minute
	// DefaultMaxUses is how many values one data key seals. Nonces are random (96 bits), so this also
	// keeps a key far below the 2^32 messages NIST SP 800-38D allows with random nonces.
	DefaultMaxUses = 10_000
	// DefaultCacheSize is how many unwrapped data keys are remembered for opening.
	DefaultCacheSize = 1000
)

const (
	version1   = 1
	dataKeyLen = 32
	nonceLen   = 12
	tagLen     = 16
)

// Sealer seals and opens values. Build one per cold start with New and share it: it is safe for
// concurrent use.
type Sealer struct {
	kp        KeyProvider
	maxAge    time.Duration
	maxUses   int
	cacheSize int
	now       func() time.Time

	encMu sync.Mutex
	enc   *encKey

	decMu sync.Mutex
	dec   map[string]*list.Element // of *decKey, by kekID + "\x00" + wrapped
	lru   *list.List               // most recently used first
}

// encKey is the data key sealing new values.
type encKey struct {
	aead    cipher.AEAD
	header  []byte // version, key-encryption key id and wrapped data key
	created time.Time
	uses    int
}

// decKey is a remembered unwrapped data key.
type decKey struct {
	id      string
	aead    cipher.AEAD
	created time.Time
}

// Option configures a Sealer.
type Option func(*Sealer)

// WithMaxAge sets how long one data key seals values and an unwrapped key is remembered (DefaultMaxAge
// otherwise; at least one nanosecond).
func WithMaxAge(d time.Duration) Option { return func(s *Sealer) { s.maxAge = max(d, 1) } }

// WithMaxUses sets how many values one data key seals (DefaultMaxUses otherwise; 1 asks the provider for
// a data key per value).
func WithMaxUses(n int) Option { return func(s *Sealer) { s.maxUses = max(n, 1) } }

// WithCacheSize sets how many unwrapped data keys are remembered for opening (DefaultCacheSize otherwise;
// 0 remembers none).
func WithCacheSize(n int) Option { return func(s *Sealer) { s.cacheSize = max(n, 0) } }

// WithClock sets the clock the cache ages are measured with (time.Now otherwise).
func WithClock(now func() time.Time) Option { return func(s *Sealer) { s.now = now } }

// New returns a Sealer over the key provider kp. It makes no call to kp: the first Seal does.
func New(kp KeyProvider, opts ...Option) *Sealer {
	s := &Sealer{
		kp: kp, maxAge: DefaultMaxAge, maxUses: DefaultMaxUses, cacheSize: DefaultCacheSize, now: time.Now,
		dec: map[string]*list.Element{}, lru: list.New(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AAD builds additional data from parts, e.g. AAD("profiles.phone", tenantID, userID). Each part is
// length-prefixed, so different lists of parts never give the same bytes.
func AAD(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// Seal encrypts plaintext bound to aad (which Open must be given again). Errors come from the key provider
// when a new data key is needed (KMS unreachable, denied) and are unexpected.
func (s *Sealer) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	k, err := s.encryptionKey(ctx)
	if err != nil {
		return nil, err
	}
	hl := len(k.header)
	out := make([]byte, hl+nonceLen, hl+nonceLen+len(plaintext)+tagLen)
	copy(out, k.header)
	_, _ = rand.Read(out[hl:]) // never fails (crypto/rand)
	return k.aead.Seal(out, out[hl:hl+nonceLen], plaintext, additional(k.header, aad)), nil
}

// Open decrypts a ciphertext made by Seal with the same aad. It returns ErrInvalidCiphertext for
// anything malformed, altered or sealed with another aad, ErrUnknownKey when the key-encryption key it
// names is not the provider's (e.g. removed from PII_LOCAL_KEYS too early), and other errors when the
// provider fails (KMS unreachable), which may pass.
func (s *Sealer) Open(ctx context.Context, ciphertext, aad []byte) ([]byte, error) {
	kekID, wrapped, header, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	rest := ciphertext[len(header):]
	if len(rest) < nonceLen+tagLen {
		return nil, ErrInvalidCiphertext
	}
	aead, err := s.decryptionKey(ctx, kekID, wrapped, header)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, rest[:nonceLen], rest[nonceLen:], additional(header, aad))
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return pt, nil
}

// KeyID returns the id of the key-encryption key a ciphertext names, e.g. to find values still under a
// retired key. It returns ErrInvalidCiphertext when ciphertext is not in this package's format.
func KeyID(ciphertext []byte) (string, error) {
	id, _, _, err := parseHeader(ciphertext)
	return id, err
}

func additional(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// parseHeader splits a ciphertext's header; header aliases ciphertext.
func parseHeader(c []byte) (kekID string, wrapped, header []byte, err error) {
	if len(c) < 2 || c[0] != version1 {
		return "", nil, nil, ErrInvalidCiphertext
	}
	n := int(c[1])
	if n == 0 || len(c) < 2+n+2 {
		return "", nil, nil, ErrInvalidCiphertext
	}
	kekID = string(c[2 : 2+n])
	m := int(binary.BigEndian.Uint16(c[2+n:]))
	end := 2 + n + 2 + m
	if m == 0 || len(c) < end {
		return "", nil, nil, ErrInvalidCiphertext
	}
	return kekID, c[2+n+2 : end], c[:end], nil
}

func makeHeader(kekID string, wrapped []byte) ([]byte, error) {
	if kekID == "" || len(kekID) > 255 || len(wrapped) == 0 || len(wrapped) > 0xffff {
		return nil, fmt.Errorf("seal: key provider returned a key id of %d bytes and a wrapped key of %d bytes", len(kekID), len(wrapped))
	}
	h := make([]byte, 0, 2+len(kekID)+2+len(wrapped))
	h = append(h, version1, byte(len(kekID)))
	h = append(h, kekID...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(wrapped)))
	return append(h, wrapped...), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != dataKeyLen {
		return nil, fmt.Errorf("seal: data key of %d bytes, want %d", len(key), dataKeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// encryptionKey returns the data key for one more value, asking the provider for a new one when the
// current one is too old or used up. The lock is held while asking: concurrent callers would otherwise
// each generate a key.
func (s *Sealer) encryptionKey(ctx context.Context) (*encKey, error) {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	now := s.now()
	if k := s.enc; k != nil && k.uses < s.maxUses && now.Sub(k.created) < s.maxAge {
		k.uses++
		return k, nil
	}
	s.enc = nil
	pt, wrapped, kekID, err := s.kp.GenerateDataKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal: generate data key: %w", err)
	}
	aead, err := newAEAD(pt)
	if err != nil {
		return nil, err
	}
	header, err := makeHeader(kekID, wrapped)
	if err != nil {
		return nil, err
	}
	s.enc = &encKey{aead: aead, header: header, created: now, uses: 1}
	// Values sealed now open without unwrapping the key again.
	s.remember(string(header[1:]), aead, now)
	return s.enc, nil
}

// decryptionKey returns the unwrapped data key of a ciphertext, from the cache or the provider. The cache
// id is the header without its version byte: the key id's length, the key id, and the wrapped key.
func (s *Sealer) decryptionKey(ctx context.Context, kekID string, wrapped, header []byte) (cipher.AEAD, error) {
	id := string(header[1:])
	now := s.now()
	s.decMu.Lock()
	if e, ok := s.dec[id]; ok {
		k := e.Value.(*decKey)
		if now.Sub(k.created) < s.maxAge {
			s.lru.MoveToFront(e)
			s.decMu.Unlock()
			return k.aead, nil
		}
		s.lru.Remove(e)
		delete(s.dec, id)
	}
	s.decMu.Unlock()

	pt, err := s.kp.Decrypt(ctx, kekID, wrapped)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrInvalidCiphertext) {
			return nil, err
		}
		return nil, fmt.Errorf("seal: unwrap data key: %w", err)
	}
	aead, err := newAEAD(pt)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	s.remember(id, aead, now)
	return aead, nil
}

// remember caches an unwrapped data key, evicting the least recently used beyond the cache size.
func (s *Sealer) remember(id string, aead cipher.AEAD, now time.Time) {
	if s.cacheSize == 0 {
		return
	}
	s.decMu.Lock()
	defer s.decMu.Unlock()
	if e, ok := s.dec[id]; ok {
		e.Value = &decKey{id: id, aead: aead, created: now}
		s.lru.MoveToFront(e)
		return
	}
	s.dec[id] = s.lru.PushFront(&decKey{id: id, aead: aead, created: now})
	for s.lru.Len() > s.cacheSize {
		last := s.lru.Back()
		s.lru.Remove(last)
		delete(s.dec, last.Value.(*decKey).id)
	}
}
