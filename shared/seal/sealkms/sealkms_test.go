package sealkms_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/seal"
	"github.com/rocker-app/corral/shared/seal/sealkms"
)

// fakeKMS stands in for AWS KMS (a paid outside API): it holds symmetric keys by ARN, answers to the key's
// ARN or alias, and binds the encryption context to each wrapped key as KMS does.
type fakeKMS struct {
	aliases map[string]string      // alias or id -> ARN
	keys    map[string]cipher.AEAD // by ARN

	mu       sync.Mutex
	requests []string // "generate <KeyId> <KeySpec>" or "decrypt <KeyId>"
	contexts []map[string]string
	err      error // when set, every call fails with it
}

var _ sealkms.KMSClient = (*fakeKMS)(nil)

const testKeyARN = "arn:aws:kms:eu-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func newFakeKMS(t testing.TB) *fakeKMS {
	t.Helper()
	block, err := aes.NewCipher(randomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	return &fakeKMS{
		aliases: map[string]string{"alias/corral-pii": testKeyARN, testKeyARN: testKeyARN},
		keys:    map[string]cipher.AEAD{testKeyARN: gcm},
	}
}

func (f *fakeKMS) record(req string, ec map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	f.contexts = append(f.contexts, maps.Clone(ec))
}

// contextAAD encodes an encryption context; the fake binds it like KMS.
func contextAAD(ec map[string]string) []byte {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		parts = append(parts, k, ec[k])
	}
	return seal.AAD(parts...)
}

func (f *fakeKMS) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	f.record("generate "+aws.ToString(in.KeyId)+" "+string(in.KeySpec), in.EncryptionContext)
	if f.err != nil {
		return nil, f.err
	}
	arn, ok := f.aliases[aws.ToString(in.KeyId)]
	if !ok {
		return nil, &types.NotFoundException{Message: aws.String("no such key")}
	}
	if in.KeySpec != types.DataKeySpecAes256 {
		return nil, &types.InvalidKeyUsageException{Message: aws.String("key spec")}
	}
	pt := randomBytes(32)
	nonce := randomBytes(12)
	blob := append(append([]byte(arn+"|"), nonce...), f.keys[arn].Seal(nil, nonce, pt, contextAAD(in.EncryptionContext))...)
	return &kms.GenerateDataKeyOutput{KeyId: aws.String(arn), Plaintext: pt, CiphertextBlob: blob}, nil
}

func (f *fakeKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	f.record("decrypt "+aws.ToString(in.KeyId), in.EncryptionContext)
	if f.err != nil {
		return nil, f.err
	}
	arn, ok := f.aliases[aws.ToString(in.KeyId)]
	if !ok {
		return nil, &types.NotFoundException{Message: aws.String("no such key")}
	}
	blobARN, rest, ok := bytes.Cut(in.CiphertextBlob, []byte("|"))
	if !ok || len(rest) < 12 {
		return nil, &types.InvalidCiphertextException{}
	}
	if string(blobARN) != arn {
		return nil, &types.IncorrectKeyException{}
	}
	pt, err := f.keys[arn].Open(nil, rest[:12], rest[12:], contextAAD(in.EncryptionContext))
	if err != nil {
		return nil, &types.InvalidCiphertextException{}
	}
	return &kms.DecryptOutput{KeyId: aws.String(arn), Plaintext: pt}, nil
}

func TestKMSProvider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeKMS(t)
	kp, err := sealkms.New(fake, "alias/corral-pii", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.requests) != 0 {
		t.Errorf("NewKMS called KMS: %v", fake.requests)
	}
	s := seal.New(kp)
	aad := seal.AAD("profiles.phone", "tenant", "user")
	var sealed [][]byte
	for range 3 {
		c, err := s.Seal(ctx, []byte("+46700000000"), aad)
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, c)
	}
	if id, _ := seal.KeyID(sealed[0]); id != testKeyARN {
		t.Errorf("KeyID = %q, want the key ARN KMS answered with", id)
	}

	// Another instance opens them: one Decrypt, naming the ARN, with the same encryption context.
	reader := seal.New(kp)
	for _, c := range sealed {
		got, err := reader.Open(ctx, c, aad)
		if err != nil || string(got) != "+46700000000" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	want := []string{"generate alias/corral-pii AES_256", "decrypt " + testKeyARN}
	if diff := cmp.Diff(want, fake.requests); diff != "" {
		t.Errorf("KMS requests (-want +got):\n%s", diff)
	}
	for i, ec := range fake.contexts {
		if diff := cmp.Diff(sealkms.DefaultEncryptionContext, ec); diff != "" {
			t.Errorf("request %d encryption context (-want +got):\n%s", i, diff)
		}
	}

	// A provider with another encryption context cannot unwrap those keys.
	otherCtx, _ := sealkms.New(fake, "alias/corral-pii", map[string]string{"purpose": "other"})
	if _, err := seal.New(otherCtx).Open(ctx, sealed[0], aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Open under another encryption context: err = %v, want ErrInvalidCiphertext", err)
	}
}

func TestKMSProviderErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := sealkms.New(newFakeKMS(t), "", nil); err == nil {
		t.Error("NewKMS without a key id succeeded")
	}
	fake := newFakeKMS(t)
	kp, _ := sealkms.New(fake, testKeyARN, nil)
	_, wrapped, _, err := kp.GenerateDataKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		kekID   string
		wrapped []byte
		want    error
	}{
		{"unknown key", "arn:aws:kms:eu-north-1:111122223333:key/gone", wrapped, seal.ErrUnknownKey},
		{"not a ciphertext", testKeyARN, []byte("garbage"), seal.ErrInvalidCiphertext},
		{"altered", testKeyARN, append(bytes.Clone(wrapped[:len(wrapped)-1]), wrapped[len(wrapped)-1]^1), seal.ErrInvalidCiphertext},
	}
	for _, tt := range tests {
		if _, err := kp.Decrypt(ctx, tt.kekID, tt.wrapped); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}

	fake.err = &types.KMSInternalException{Message: aws.String("try again")}
	var internal *types.KMSInternalException
	if _, err := kp.Decrypt(ctx, testKeyARN, wrapped); !errors.As(err, &internal) || errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Decrypt while KMS fails: err = %v, want KMS's error wrapped", err)
	}
	if _, err := seal.New(kp).Seal(ctx, []byte("v"), nil); !errors.As(err, &internal) {
		t.Errorf("Seal while KMS fails: err = %v, want KMS's error wrapped", err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
