package seal_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync/atomic"
	"testing"

	"github.com/rocker-app/corral/shared/seal"
)

// newKey returns a random 32-byte key in base64.
func newKey() string {
	return base64.StdEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func localKeys(t testing.TB, spec string) *seal.LocalKeys {
	t.Helper()
	lk, err := seal.ParseLocalKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// counting is a KeyProvider that counts the calls reaching the provider it wraps.
type counting struct {
	seal.KeyProvider
	generated, decrypted atomic.Int64
}

var _ seal.KeyProvider = (*counting)(nil)

func (c *counting) GenerateDataKey(ctx context.Context) ([]byte, []byte, string, error) {
	c.generated.Add(1)
	return c.KeyProvider.GenerateDataKey(ctx)
}

func (c *counting) Decrypt(ctx context.Context, kekID string, wrapped []byte) ([]byte, error) {
	c.decrypted.Add(1)
	return c.KeyProvider.Decrypt(ctx, kekID, wrapped)
}

func mustSeal(t testing.TB, s *seal.Sealer, plaintext, aad string) []byte {
	t.Helper()
	c, err := s.Seal(context.Background(), []byte(plaintext), []byte(aad))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
