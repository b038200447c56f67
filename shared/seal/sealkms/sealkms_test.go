package sealkms_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/awsjson/awsjsontest"
	"github.com/rocker-app/corral/shared/seal"
	"github.com/rocker-app/corral/shared/seal/sealkms"
)

// fakeKMS stands in for AWS KMS (a paid outside API) on its JSON protocol: it holds symmetric keys by ARN,
// answers to the key's ARN or alias, and binds the encryption context to each wrapped key as KMS does.
// awsjsontest checks every request's target and its signature for "kms".
type fakeKMS struct {
	*awsjsontest.Server
	aliases map[string]string      // alias or id -> ARN
	keys    map[string]cipher.AEAD // by ARN

	mu       sync.Mutex
	requests []string // "generate <KeyId> <KeySpec>" or "decrypt <KeyId>"
	contexts []map[string]string
	err      *awsjson.Error // when set, every call fails with it
}

const testKeyARN = "arn:aws:kms:eu-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func newFakeKMS(t testing.TB) *fakeKMS {
	t.Helper()
	block, err := aes.NewCipher(randomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	f := &fakeKMS{
		aliases: map[string]string{"alias/corral-pii": testKeyARN, testKeyARN: testKeyARN},
		keys:    map[string]cipher.AEAD{testKeyARN: gcm},
	}
	f.Server = awsjsontest.NewServer(t, awsjson.KMS, map[string]awsjsontest.Operation{
		"GenerateDataKey": f.generateDataKey,
		"Decrypt":         f.decrypt,
	})
	return f
}

// provider returns the provider Provider builds (its KMS client), sending to the fake.
func (f *fakeKMS) provider(t testing.TB, keyID string, ec map[string]string) *sealkms.KMS {
	t.Helper()
	cfg := awsjsontest.Config()
	cfg.BaseEndpoint = aws.String(f.URL)
	kp, err := sealkms.New(sealkms.NewClient(cfg), keyID, ec)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func (f *fakeKMS) record(req string, ec map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	f.contexts = append(f.contexts, maps.Clone(ec))
	if f.err != nil {
		return f.err
	}
	return nil
}

// calls returns the requests so far and their encryption contexts.
func (f *fakeKMS) calls() (requests []string, contexts []map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), slices.Clone(f.contexts)
}

func (f *fakeKMS) setErr(err *awsjson.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// contextAAD encodes an encryption context; the fake binds it like KMS.
func contextAAD(ec map[string]string) []byte {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		parts = append(parts, k, ec[k])
	}
	return seal.AAD(parts...)
}

// kmsError is an error answer of KMS.
func kmsError(status int, typ string) *awsjson.Error {
	return &awsjson.Error{Status: status, Type: typ, Message: typ}
}

func (f *fakeKMS) generateDataKey(raw json.RawMessage) (any, error) {
	var in struct {
		KeyId, KeySpec    string
		EncryptionContext map[string]string
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if err := f.record("generate "+in.KeyId+" "+in.KeySpec, in.EncryptionContext); err != nil {
		return nil, err
	}
	arn, ok := f.aliases[in.KeyId]
	if !ok {
		return nil, kmsError(400, "NotFoundException")
	}
	if in.KeySpec != "AES_256" {
		return nil, kmsError(400, "InvalidKeyUsageException")
	}
	pt := randomBytes(32)
	nonce := randomBytes(12)
	blob := append(append([]byte(arn+"|"), nonce...), f.keys[arn].Seal(nil, nonce, pt, contextAAD(in.EncryptionContext))...)
	return map[string]any{"KeyId": arn, "Plaintext": pt, "CiphertextBlob": blob}, nil
}

func (f *fakeKMS) decrypt(raw json.RawMessage) (any, error) {
	var in struct {
		KeyId, EncryptionAlgorithm string
		CiphertextBlob             []byte
		EncryptionContext          map[string]string
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if err := f.record("decrypt "+in.KeyId, in.EncryptionContext); err != nil {
		return nil, err
	}
	if in.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		return nil, kmsError(400, "ValidationException")
	}
	arn, ok := f.aliases[in.KeyId]
	if !ok {
		return nil, kmsError(400, "NotFoundException")
	}
	blobARN, rest, ok := bytes.Cut(in.CiphertextBlob, []byte("|"))
	if !ok || len(rest) < 12 {
		return nil, kmsError(400, "InvalidCiphertextException")
	}
	if string(blobARN) != arn {
		return nil, kmsError(400, "IncorrectKeyException")
	}
	pt, err := f.keys[arn].Open(nil, rest[:12], rest[12:], contextAAD(in.EncryptionContext))
	if err != nil {
		return nil, kmsError(400, "InvalidCiphertextException")
	}
	return map[string]any{"KeyId": arn, "Plaintext": pt, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func TestKMSProvider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := newFakeKMS(t)
	kp := fake.provider(t, "alias/corral-pii", nil)
	if reqs, _ := fake.calls(); len(reqs) != 0 {
		t.Errorf("New called KMS: %v", reqs)
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
	requests, contexts := fake.calls()
	if diff := cmp.Diff(want, requests); diff != "" {
		t.Errorf("KMS requests (-want +got):\n%s", diff)
	}
	for i, ec := range contexts {
		if diff := cmp.Diff(sealkms.DefaultEncryptionContext, ec); diff != "" {
			t.Errorf("request %d encryption context (-want +got):\n%s", i, diff)
		}
	}

	// A provider with another encryption context cannot unwrap those keys.
	otherCtx := fake.provider(t, "alias/corral-pii", map[string]string{"purpose": "other"})
	if _, err := seal.New(otherCtx).Open(ctx, sealed[0], aad); !errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Open under another encryption context: err = %v, want ErrInvalidCiphertext", err)
	}
}

func TestKMSProviderErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := sealkms.New(nil, "", nil); err == nil {
		t.Error("New without a key id succeeded")
	}
	fake := newFakeKMS(t)
	kp := fake.provider(t, testKeyARN, nil)
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

	fake.setErr(kmsError(500, "KMSInternalException"))
	var internal *awsjson.Error
	if _, err := kp.Decrypt(ctx, testKeyARN, wrapped); !errors.As(err, &internal) || internal.Type != "KMSInternalException" || errors.Is(err, seal.ErrInvalidCiphertext) {
		t.Errorf("Decrypt while KMS fails: err = %v, want KMS's error wrapped", err)
	}
	if _, err := seal.New(kp).Seal(ctx, []byte("v"), nil); !errors.As(err, &internal) || internal.Type != "KMSInternalException" {
		t.Errorf("Seal while KMS fails: err = %v, want KMS's error wrapped", err)
	}
	fake.setErr(kmsError(400, "DisabledException"))
	if _, err := kp.Decrypt(ctx, testKeyARN, wrapped); awsjson.ErrorType(err) != "DisabledException" || errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Decrypt with a disabled key: err = %v, want KMS's error wrapped", err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
