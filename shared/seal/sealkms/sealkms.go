// Package sealkms is the AWS KMS key provider of shared/seal (PII_KEY_PROVIDER=kms). It is a package of its
// own so that only the functions that seal personal data link it. It calls KMS's two operations through
// shared/awsjson: the SDK's generated KMS client costs about a megabyte of binary and milliseconds of
// package initialisation at every cold start.
package sealkms

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/seal"
)

// Provider builds the KMS key provider of keyID with the Lambda environment's region and credentials (see
// shared/awsenv) and DefaultEncryptionContext. It makes no call. platform.WithKMS takes it.
func Provider(_ context.Context, region, keyID string) (seal.KeyProvider, error) {
	return New(newClient(awsenv.Config(os.Getenv, awsenv.Options{Region: region})), keyID, nil)
}

// newClient returns a KMS client for cfg's region and credentials.
func newClient(cfg aws.Config) *awsjson.Client {
	return awsjson.New(cfg, awsjson.KMS, awsjson.Options{})
}

// dataKeyLen is the length of an AES-256 data key.
const dataKeyLen = 32

// KMS is a seal.KeyProvider whose key-encryption key is an AWS KMS symmetric key: KMS generates each data key
// (AES_256) and unwraps it. Safe for concurrent use.
//
// The id KMS stores with each ciphertext is the key ARN KMS answered with, and Decrypt names it, so values
// sealed under a previous key stay readable after PII_KMS_KEY_ID changes, as long as the role may still
// use that key. KMS's own automatic rotation keeps the key's ARN and needs nothing.
type KMS struct {
	client *awsjson.Client
	keyID  string
	ctx    map[string]string
}

var _ seal.KeyProvider = (*KMS)(nil)

// DefaultEncryptionContext is the KMS encryption context of every data key, unless New is given
// another: KMS binds it to the wrapped key, and CloudTrail shows it on every call.
var DefaultEncryptionContext = map[string]string{"purpose": "corral-pii"}

// New returns a provider generating data keys under keyID (a key id, key ARN, alias name or alias ARN)
// with the encryption context ec (DefaultEncryptionContext when nil), calling KMS through client (an
// awsjson.KMS client). It makes no call. It fails only when keyID is empty.
func New(client *awsjson.Client, keyID string, ec map[string]string) (*KMS, error) {
	if keyID == "" {
		return nil, errors.New("seal: PII_KMS_KEY_ID: must be set")
	}
	if ec == nil {
		ec = DefaultEncryptionContext
	}
	return &KMS{client: client, keyID: keyID, ctx: ec}, nil
}

// The members of KMS's GenerateDataKey and Decrypt that the provider uses; blobs are base64 in JSON.
type (
	generateDataKeyInput struct {
		KeyID             string `json:"KeyId"`
		KeySpec           string
		EncryptionContext map[string]string
	}
	decryptInput struct {
		CiphertextBlob      []byte
		KeyID               string `json:"KeyId"`
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
	}
	keyOutput struct { // GenerateDataKey's answer; Decrypt's has no CiphertextBlob
		KeyID          string `json:"KeyId"`
		Plaintext      []byte
		CiphertextBlob []byte
	}
)

// GenerateDataKey implements seal.KeyProvider; KMS's errors are wrapped with %w (an *awsjson.Error when
// KMS answered with one).
func (k *KMS) GenerateDataKey(ctx context.Context) (plaintext, wrapped []byte, kekID string, err error) {
	var out keyOutput
	err = k.client.Call(ctx, "GenerateDataKey", generateDataKeyInput{KeyID: k.keyID, KeySpec: "AES_256", EncryptionContext: k.ctx}, &out)
	if err != nil {
		return nil, nil, "", fmt.Errorf("kms generate data key: %w", err)
	}
	if len(out.Plaintext) != dataKeyLen || len(out.CiphertextBlob) == 0 || out.KeyID == "" {
		return nil, nil, "", fmt.Errorf("kms generate data key: unexpected answer (%d-byte key)", len(out.Plaintext))
	}
	return out.Plaintext, out.CiphertextBlob, out.KeyID, nil
}

// Decrypt implements seal.KeyProvider. KMS's answers that the key does not exist map to seal.ErrUnknownKey;
// that the blob is not a ciphertext of this key and context, to seal.ErrInvalidCiphertext. Other errors
// (disabled key, access denied, throttling, network) are wrapped with %w.
func (k *KMS) Decrypt(ctx context.Context, kekID string, wrapped []byte) ([]byte, error) {
	var out keyOutput
	err := k.client.Call(ctx, "Decrypt", decryptInput{
		CiphertextBlob: wrapped, KeyID: kekID, EncryptionContext: k.ctx, EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
	}, &out)
	switch awsjson.ErrorType(err) {
	case "NotFoundException":
		return nil, seal.ErrUnknownKey
	case "InvalidCiphertextException", "IncorrectKeyException":
		return nil, seal.ErrInvalidCiphertext
	}
	if err != nil {
		return nil, fmt.Errorf("kms decrypt: %w", err)
	}
	return out.Plaintext, nil
}
