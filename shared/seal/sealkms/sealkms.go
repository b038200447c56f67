// Package sealkms is the AWS KMS key provider of shared/seal (PII_KEY_PROVIDER=kms). It is a package of its
// own so that only the functions that seal personal data link the KMS client: the SDK's service packages
// cost megabytes of binary and milliseconds of package initialisation at every cold start.
package sealkms

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/seal"
)

// Provider builds the KMS key provider of keyID with the Lambda environment's region and credentials (see
// shared/awsenv) and
// DefaultEncryptionContext. It makes no call. platform.WithKMS takes it.
func Provider(ctx context.Context, region, keyID string) (seal.KeyProvider, error) {
	return New(kms.NewFromConfig(awsenv.Config(os.Getenv, awsenv.Options{Region: region})), keyID, nil)
}

// dataKeyLen is the length of an AES-256 data key.
const dataKeyLen = 32

// KMSClient is the part of *kms.Client that KMS uses.
type KMSClient interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ KMSClient = (*kms.Client)(nil)

// KMS is a seal.KeyProvider whose key-encryption key is an AWS KMS symmetric key: KMS generates each data key
// (AES_256) and unwraps it. Safe for concurrent use.
//
// The id KMS stores with each ciphertext is the key ARN KMS answered with, and Decrypt names it, so values
// sealed under a previous key stay readable after PII_KMS_KEY_ID changes, as long as the role may still
// use that key. KMS's own automatic rotation keeps the key's ARN and needs nothing.
type KMS struct {
	client KMSClient
	keyID  string
	ctx    map[string]string
}

var _ seal.KeyProvider = (*KMS)(nil)

// DefaultEncryptionContext is the KMS encryption context of every data key, unless NewKMS is given
// another: KMS binds it to the wrapped key, and CloudTrail shows it on every call.
var DefaultEncryptionContext = map[string]string{"purpose": "corral-pii"}

// New returns a provider generating data keys under keyID (a key id, key ARN, alias name or alias ARN)
// with the encryption context ec (DefaultEncryptionContext when nil). It makes no call. It fails only when
// keyID is empty.
func New(client KMSClient, keyID string, ec map[string]string) (*KMS, error) {
	if keyID == "" {
		return nil, errors.New("seal: PII_KMS_KEY_ID: must be set")
	}
	if ec == nil {
		ec = DefaultEncryptionContext
	}
	return &KMS{client: client, keyID: keyID, ctx: ec}, nil
}

// GenerateDataKey implements seal.KeyProvider; errors are KMS's.
func (k *KMS) GenerateDataKey(ctx context.Context) (plaintext, wrapped []byte, kekID string, err error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(k.keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: k.ctx,
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("kms generate data key: %w", err)
	}
	if len(out.Plaintext) != dataKeyLen || len(out.CiphertextBlob) == 0 || aws.ToString(out.KeyId) == "" {
		return nil, nil, "", fmt.Errorf("kms generate data key: unexpected answer (%d-byte key)", len(out.Plaintext))
	}
	return out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), nil
}

// Decrypt implements seal.KeyProvider. KMS's answers that the key does not exist map to seal.ErrUnknownKey; that
// the blob is not a ciphertext of this key and context, to seal.ErrInvalidCiphertext. Other errors (disabled
// key, access denied, throttling, network) are wrapped as they are.
func (k *KMS) Decrypt(ctx context.Context, kekID string, wrapped []byte) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: wrapped, KeyId: aws.String(kekID), EncryptionContext: k.ctx,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	var notFound *types.NotFoundException
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	switch {
	case errors.As(err, &notFound):
		return nil, seal.ErrUnknownKey
	case errors.As(err, &invalid), errors.As(err, &incorrect):
		return nil, seal.ErrInvalidCiphertext
	case err != nil:
		return nil, fmt.Errorf("kms decrypt: %w", err)
	}
	return out.Plaintext, nil
}
