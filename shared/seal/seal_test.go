package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/seal"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	s := seal.New(localKeys(t, "k1:"+newKey()))
	ctx := context.Background()
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", []byte{}, seal.AAD("profiles.phone", "t", "u")},
		{"phone", []byte("+46 70 000 00 00"), seal.AAD("profiles.phone", "t", "u")},
		{"no aad", []byte("1990-04-01"), nil},
		{"binary", randomBytes(300), []byte{0, 1, 2}},
		{"large", bytes.Repeat([]byte("address "), 8<<10), seal.AAD("profiles.address", "t", "u")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := s.Seal(ctx, tt.plaintext, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.plaintext) > 4 && bytes.Contains(c, tt.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}
			got, err := s.Open(ctx, c, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	t.Parallel()
	s := seal.New(localKeys(t, "k1:"+newKey()))
	a, b := mustSeal(t, s, "same", "aad"), mustSeal(t, s, "same", "aad")
	if bytes.Equal(a, b) {
		t.Error("two seals of one value are equal: nonces repeat")
	}
}

// Changing any byte of a ciphertext, or cutting it short anywhere, makes Open fail with one of the
// package's errors: the version, both lengths, the key id, the wrapped key, the nonce, the ciphertext and
// the tag are all authenticated.
func TestOpenRefusesTamperedCiphertext(t *testing.T) {
	t.Parallel()
	s := seal.New(localKeys(t, "k1:"+newKey()+",k0:"+newKey()))
	ctx := context.Background()
	aad := seal.AAD("profiles.phone", "tenant", "user")
	c := mustSeal(t, s, "+46700000000", string(aad))
	// Header: version (1), id length (1), "k1" (2), wrapped length (2), wrapped (12+32+16); nonce; body.
	wrappedEnd := 1 + 1 + 2 + 2 + 60
	part := func(i int) string {
		switch {
		case i == 0:
			return "version"
		case i == 1:
			return "key id length"
		case i < 4:
			return "key id"
		case i < 6:
			return "wrapped length"
		case i < wrappedEnd:
			return "wrapped key"
		case i < wrappedEnd+12:
			return "nonce"
		case i < len(c)-16:
			return "ciphertext"
		default:
			return "tag"
		}
	}
	for i := range c {
		for _, flip := range []byte{0x01, 0x80} {
			bad := bytes.Clone(c)
			bad[i] ^= flip
			_, err := s.Open(ctx, bad, aad)
			if !errors.Is(err, seal.ErrInvalidCiphertext) && !errors.Is(err, seal.ErrUnknownKey) {
				t.Errorf("byte %d (%s) ^ %#x: Open err = %v, want ErrInvalidCiphertext or ErrUnknownKey", i, part(i), flip, err)
			}
		}
	}
	// The key id changed to another key the provider has: the wrapped key does not authenticate.
	other := bytes.Clone(c)
	other[3] = '0'
	if _, err := s.Open(ctx, other, aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("key id k1 -> k0: err = %v, want ErrInvalidCiphertext", err)
	}
	for n := range len(c) {
		if _, err := s.Open(ctx, c[:n], aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
			t.Errorf("cut to %d bytes: err = %v, want ErrInvalidCiphertext", n, err)
		}
	}
	if _, err := s.Open(ctx, append(bytes.Clone(c), 0), aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("a byte appended: err = %v, want ErrInvalidCiphertext", err)
	}
	if got, err := s.Open(ctx, c, aad); err != nil || string(got) != "+46700000000" {
		t.Errorf("the original no longer opens: %q, %v", got, err)
	}
}

func TestOpenRefusesAnotherAAD(t *testing.T) {
	t.Parallel()
	s := seal.New(localKeys(t, "k1:"+newKey()))
	ctx := context.Background()
	c := mustSeal(t, s, "1990-04-01", string(seal.AAD("profiles.date_of_birth", "tenant", "alice")))
	for name, aad := range map[string][]byte{
		"another user":   seal.AAD("profiles.date_of_birth", "tenant", "bob"),
		"another tenant": seal.AAD("profiles.date_of_birth", "other", "alice"),
		"another column": seal.AAD("profiles.phone", "tenant", "alice"),
		"none":           nil,
	} {
		if _, err := s.Open(ctx, c, aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
			t.Errorf("%s: err = %v, want ErrInvalidCiphertext", name, err)
		}
	}
}

func TestAADIsUnambiguous(t *testing.T) {
	t.Parallel()
	if bytes.Equal(seal.AAD("ab", "c"), seal.AAD("a", "bc")) || bytes.Equal(seal.AAD("a", ""), seal.AAD("a")) {
		t.Error("different parts give the same AAD")
	}
	if !bytes.Equal(seal.AAD("a", "b"), seal.AAD("a", "b")) {
		t.Error("AAD is not deterministic")
	}
}

// Rotation: a new key in front seals new values; values sealed under the old key still open while it is
// listed, and fail with ErrUnknownKey once it is gone.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k1, k2 := newKey(), newKey()
	before := seal.New(localKeys(t, "k1:"+k1))
	old := mustSeal(t, before, "old value", "aad")

	after := seal.New(localKeys(t, "k2:"+k2+", k1:"+k1))
	if got, err := after.Open(ctx, old, []byte("aad")); err != nil || string(got) != "old value" {
		t.Fatalf("value sealed under k1, opened after k2 became active: %q, %v", got, err)
	}
	fresh := mustSeal(t, after, "new value", "aad")
	for name, c := range map[string][]byte{"old": old, "new": fresh} {
		id, err := seal.KeyID(c)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"old": "k1", "new": "k2"}[name]
		if id != want {
			t.Errorf("KeyID(%s) = %q, want %q", name, id, want)
		}
	}
	if _, err := before.Open(ctx, fresh, []byte("aad")); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("k2 value opened without k2: err = %v, want ErrUnknownKey", err)
	}
	retired := seal.New(localKeys(t, "k2:"+k2))
	if _, err := retired.Open(ctx, old, []byte("aad")); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("k1 value opened after k1 was removed: err = %v, want ErrUnknownKey", err)
	}
	if _, err := seal.KeyID([]byte("not sealed")); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("KeyID of garbage: err = %v, want ErrInvalidCiphertext", err)
	}
}

// The data-key cache: one generated key seals up to MaxUses values for up to MaxAge; unwrapped keys are
// remembered, so opening many values sealed under one data key unwraps it once.
func TestDataKeyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kp := &counting{KeyProvider: localKeys(t, "k1:"+newKey())}
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := seal.New(kp, seal.WithMaxUses(10), seal.WithMaxAge(time.Minute), seal.WithClock(clock))

	var sealed [][]byte
	for i := range 25 {
		sealed = append(sealed, mustSeal(t, s, fmt.Sprint("value ", i), "aad"))
	}
	if got := kp.generated.Load(); got != 3 {
		t.Errorf("data keys generated for 25 values at 10 uses each: %d, want 3", got)
	}
	advance(time.Minute)
	sealed = append(sealed, mustSeal(t, s, "after a minute", "aad"))
	if got := kp.generated.Load(); got != 4 {
		t.Errorf("data keys generated after MaxAge: %d, want 4", got)
	}
	if got := kp.decrypted.Load(); got != 0 {
		t.Errorf("the sealer unwrapped %d keys of its own, want 0", got)
	}

	// A second instance (another Lambda) opens everything, unwrapping each of the 4 data keys once.
	reader := &counting{KeyProvider: kp.KeyProvider}
	r := seal.New(reader, seal.WithClock(clock))
	for round := range 2 {
		for i, c := range sealed {
			if _, err := r.Open(ctx, c, []byte("aad")); err != nil {
				t.Fatalf("round %d, value %d: %v", round, i, err)
			}
		}
	}
	if got := reader.decrypted.Load(); got != 4 {
		t.Errorf("keys unwrapped to open 26 values twice: %d, want 4", got)
	}
	// Remembered keys expire after MaxAge.
	advance(seal.DefaultMaxAge)
	if _, err := r.Open(ctx, sealed[0], []byte("aad")); err != nil {
		t.Fatal(err)
	}
	if got := reader.decrypted.Load(); got != 5 {
		t.Errorf("keys unwrapped after the cache aged: %d, want 5", got)
	}

	// A cache of one key unwraps again when two data keys alternate.
	small := &counting{KeyProvider: kp.KeyProvider}
	sm := seal.New(small, seal.WithCacheSize(1), seal.WithClock(clock))
	for _, c := range [][]byte{sealed[0], sealed[10], sealed[0], sealed[10]} {
		if _, err := sm.Open(ctx, c, []byte("aad")); err != nil {
			t.Fatal(err)
		}
	}
	if got := small.decrypted.Load(); got != 4 {
		t.Errorf("keys unwrapped with a one-key cache: %d, want 4", got)
	}
}

func TestSealerConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := localKeys(t, "k1:"+newKey())
	// Small limits so that key generation and cache eviction race with sealing and opening.
	s := seal.New(lk, seal.WithMaxUses(7), seal.WithCacheSize(3))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				pt := fmt.Sprintf("goroutine %d value %d", g, i)
				aad := seal.AAD("col", fmt.Sprint(g), fmt.Sprint(i))
				c, err := s.Seal(ctx, []byte(pt), aad)
				if err != nil {
					errs <- err
					return
				}
				got, err := s.Open(ctx, c, aad)
				if err != nil || string(got) != pt {
					errs <- fmt.Errorf("open %q: %q, %v", pt, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// failing is a KeyProvider that is down.
type failing struct{}

func (failing) GenerateDataKey(context.Context) ([]byte, []byte, string, error) {
	return nil, nil, "", errors.New("provider down")
}

func (failing) Decrypt(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("provider down")
}

func TestProviderFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := seal.New(failing{})
	if _, err := s.Seal(ctx, []byte("secret value"), nil); err == nil || strings.Contains(err.Error(), "secret value") {
		t.Errorf("Seal with the provider down: err = %v, want an error without the plaintext", err)
	}
	c := mustSeal(t, seal.New(localKeys(t, "k1:"+newKey())), "secret value", "")
	_, err := s.Open(ctx, c, nil)
	if err == nil || errors.Is(err, seal.ErrInvalidCiphertext) || errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Open with the provider down: err = %v, want a provider failure", err)
	}
}

func TestParseLocalKeys(t *testing.T) {
	t.Parallel()
	key := newKey()
	short := "c2hvcnQta2V5LW9mLTE2Yg==" // 16 bytes
	tests := []struct {
		name, spec, wantErr string
		active              string
	}{
		{"one key", "k1:" + key, "", "k1"},
		{"first is active, spaces and empty entries ignored", " k2:" + newKey() + " , ,k1:" + key, "", "k2"},
		{"url-safe unpadded", "dev.1:" + strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(key), "="), "", "dev.1"},
		{"empty", "", "no key", ""},
		{"no id", key, "entry 1 must be id:<base64 key>", ""},
		{"bad id", "k 1:" + key, "entry 1", ""},
		{"duplicate id", "k1:" + key + ",k1:" + newKey(), `"k1" appears twice`, ""},
		{"not base64", "k1:not*base64", `key "k1" is not base64`, ""},
		{"short key", "k1:" + short, `key "k1" must be 32 bytes, got 16`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lk, err := seal.ParseLocalKeys(tt.spec)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if lk.ActiveKeyID() != tt.active {
					t.Errorf("active key %q, want %q", lk.ActiveKeyID(), tt.active)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "PII_LOCAL_KEYS") {
				t.Fatalf("err = %v, want one naming PII_LOCAL_KEYS with %q", err, tt.wantErr)
			}
			for _, secret := range []string{key, short} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a key", err)
				}
			}
		})
	}
}

func TestLocalKeysDecryptErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := localKeys(t, "k1:"+newKey())
	pt, wrapped, id, err := lk.GenerateDataKey(ctx)
	if err != nil || id != "k1" || len(pt) != 32 {
		t.Fatalf("GenerateDataKey = %d bytes, %q, %v", len(pt), id, err)
	}
	got, err := lk.Decrypt(ctx, "k1", wrapped)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt = %v, want the generated key", err)
	}
	tests := []struct {
		name    string
		id      string
		wrapped []byte
		want    error
	}{
		{"unknown id", "k9", wrapped, seal.ErrUnknownKey},
		{"short", "k1", wrapped[:20], seal.ErrInvalidCiphertext},
		{"altered", "k1", append(bytes.Clone(wrapped[:len(wrapped)-1]), wrapped[len(wrapped)-1]^1), seal.ErrInvalidCiphertext},
	}
	for _, tt := range tests {
		if _, err := lk.Decrypt(ctx, tt.id, tt.wrapped); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	b1 := newKey()
	old, err := seal.ParseBlindIndex("b1:" + b1)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := seal.ParseBlindIndex("b2:" + newKey() + ",b1:" + b1)
	if err != nil {
		t.Fatal(err)
	}
	const email = "ann@example.com"
	idx := old.Index(email)
	if len(idx) != 1+2+32 || string(idx[1:3]) != "b1" {
		t.Errorf("index %x: want the key id b1 and a 32-byte MAC", idx)
	}
	for _, spelling := range []string{email, "  Ann@Example.COM\n", "ANN@EXAMPLE.COM"} {
		if !bytes.Equal(old.Index(spelling), idx) {
			t.Errorf("Index(%q) differs from Index(%q)", spelling, email)
		}
	}
	if bytes.Equal(old.Index("bob@example.com"), idx) {
		t.Error("two addresses have one index")
	}
	if bytes.Contains(idx, []byte("ann")) {
		t.Error("the index shows the value")
	}
	newIdx := rotated.Index(email)
	if bytes.Equal(newIdx, idx) || string(newIdx[1:3]) != "b2" {
		t.Errorf("index under b2 = %x, want one of key b2 differing from b1's %x", newIdx, idx)
	}
	if diff := cmp.Diff([][]byte{newIdx, idx}, rotated.Candidates(" ANN@example.com")); diff != "" {
		t.Errorf("Candidates after rotation (-want +got):\n%s", diff)
	}
	if !rotated.Current(newIdx) || rotated.Current(idx) || rotated.Current(nil) {
		t.Error("Current: want true for the b2 index only")
	}
	if got := seal.Normalize("  MiXed@Case.Test "); got != "mixed@case.test" {
		t.Errorf("Normalize = %q", got)
	}
	for _, spec := range []string{"", "b1", "b1:" + "c2hvcnQta2V5LW9mLTE2Yg=="} {
		if _, err := seal.ParseBlindIndex(spec); err == nil || !strings.Contains(err.Error(), "BLIND_INDEX_KEYS") {
			t.Errorf("ParseBlindIndex(%q): err = %v, want one naming BLIND_INDEX_KEYS", spec, err)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	s := seal.New(localKeys(b, "k1:"+newKey()))
	ctx := context.Background()
	pt, aad := []byte("+46 70 000 00 00"), seal.AAD("profiles.phone", "tenant", "user")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(ctx, pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []seal.Option
	}{
		{"cached", nil},
		{"unwrap each", []seal.Option{seal.WithCacheSize(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lk := localKeys(b, "k1:"+newKey())
			aad := seal.AAD("profiles.phone", "tenant", "user")
			c := mustSeal(b, seal.New(lk), "+46 70 000 00 00", string(aad))
			s := seal.New(lk, bc.opts...)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Open(ctx, c, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
