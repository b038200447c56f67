package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Prefixes of a JWT_SIGNING_KEYS value that refers to where the PEM text is kept instead of holding it.
const (
	// SSMKeyPrefix, followed by a parameter name or ARN: an SSM Parameter Store SecureString (or String)
	// parameter holding the PEM text, read with decryption.
	SSMKeyPrefix = "ssm:"
	// SecretsManagerKeyPrefix, followed by a secret id (name or ARN): a Secrets Manager secret whose
	// SecretString (or SecretBinary) is the PEM text.
	SecretsManagerKeyPrefix = "secretsmanager:"
)

// ParameterGetter is the part of the SSM client that LoadKeyRing uses; *ssm.Client satisfies it.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretGetter is the part of the Secrets Manager client that LoadKeyRing uses; *secretsmanager.Client
// satisfies it.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// KeySources are the stores a JWT_SIGNING_KEYS reference may point into. A nil field means that kind of
// reference is refused; PEM text needs neither.
type KeySources struct {
	SSM            ParameterGetter
	SecretsManager SecretGetter
}

// IsKeyReference reports whether a JWT_SIGNING_KEYS value is an ssm: or secretsmanager: reference rather
// than PEM text, so a caller builds AWS clients only when they are needed.
func IsKeyReference(value string) bool {
	v := strings.TrimSpace(value)
	return strings.HasPrefix(v, SSMKeyPrefix) || strings.HasPrefix(v, SecretsManagerKeyPrefix)
}

// LoadKeyRing builds the ring from a JWT_SIGNING_KEYS value: PEM text (see ParseKeyRing), or
// "ssm:<parameter name or ARN>" / "secretsmanager:<secret id or ARN>", which is resolved now, with one call
// bounded by ctx, through src. activeKID is JWT_SIGNING_KID. It fails when the value is empty, the reference
// names a store src lacks, the store call fails or returns nothing, or the text is not a valid key ring;
// errors name the reference, never the key material.
func LoadKeyRing(ctx context.Context, value, activeKID string, src KeySources) (*KeyRing, error) {
	value = strings.TrimSpace(value)
	var text string
	switch {
	case value == "":
		return nil, errors.New("auth: JWT signing keys are empty")
	case strings.HasPrefix(value, SSMKeyPrefix):
		name := strings.TrimSpace(strings.TrimPrefix(value, SSMKeyPrefix))
		if name == "" || src.SSM == nil {
			return nil, fmt.Errorf("auth: JWT signing keys %q: no parameter name or no SSM client", value)
		}
		out, err := src.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("auth: JWT signing keys: read SSM parameter %q: %w", name, err)
		}
		if out == nil || out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
			return nil, fmt.Errorf("auth: JWT signing keys: SSM parameter %q is empty", name)
		}
		text = aws.ToString(out.Parameter.Value)
	case strings.HasPrefix(value, SecretsManagerKeyPrefix):
		id := strings.TrimSpace(strings.TrimPrefix(value, SecretsManagerKeyPrefix))
		if id == "" || src.SecretsManager == nil {
			return nil, fmt.Errorf("auth: JWT signing keys %q: no secret id or no Secrets Manager client", value)
		}
		out, err := src.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("auth: JWT signing keys: read secret %q: %w", id, err)
		}
		switch {
		case out == nil:
		case aws.ToString(out.SecretString) != "":
			text = aws.ToString(out.SecretString)
		default:
			text = string(out.SecretBinary)
		}
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("auth: JWT signing keys: secret %q is empty", id)
		}
	default:
		text = value
	}
	return ParseKeyRing(text, activeKID)
}
