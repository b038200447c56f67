// Package keyrefs resolves JWT_SIGNING_KEYS values that refer to where the key ring is kept (an SSM
// parameter or a Secrets Manager secret) instead of holding the PEM text. It is a package of its own so
// that only the token-issuing functions link the SSM and Secrets Manager clients (megabytes of binary and
// milliseconds of package initialisation at every cold start).
package keyrefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/awsenv"
)

// Loader resolves value (JWT_SIGNING_KEYS: PEM text or a reference) with the Lambda environment's region
// and credentials (see shared/awsenv), with one call bounded by ctx; platform.WithKeyReferences takes it. (Functions in the VPC
// reach SSM / Secrets Manager through their VPC interface endpoints or a NAT.)
func Loader(ctx context.Context, region, value, activeKID string) (*auth.KeyRing, error) {
	var src Sources
	if auth.IsKeyReference(value) {
		awsCfg := awsenv.Config(os.Getenv, awsenv.Options{Region: region})
		src = Sources{SSM: ssm.NewFromConfig(awsCfg), SecretsManager: secretsmanager.NewFromConfig(awsCfg)}
	}
	return LoadKeyRing(ctx, value, activeKID, src)
}

// ParameterGetter is the part of the SSM client that LoadKeyRing uses; *ssm.Client satisfies it.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretGetter is the part of the Secrets Manager client that LoadKeyRing uses; *secretsmanager.Client
// satisfies it.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Sources are the stores a JWT_SIGNING_KEYS reference may point into. A nil field means that kind of
// reference is refused; PEM text needs neither.
type Sources struct {
	SSM            ParameterGetter
	SecretsManager SecretGetter
}

// LoadKeyRing builds the ring from a JWT_SIGNING_KEYS value: PEM text (see ParseKeyRing), or
// "ssm:<parameter name or ARN>" / "secretsmanager:<secret id or ARN>", which is resolved now, with one call
// bounded by ctx, through src. activeKID is JWT_SIGNING_KID. It fails when the value is empty, the reference
// names a store src lacks, the store call fails or returns nothing, or the text is not a valid key ring;
// errors name the reference, never the key material.
func LoadKeyRing(ctx context.Context, value, activeKID string, src Sources) (*auth.KeyRing, error) {
	value = strings.TrimSpace(value)
	var text string
	switch {
	case value == "":
		return nil, errors.New("auth: JWT signing keys are empty")
	case strings.HasPrefix(value, auth.SSMKeyPrefix):
		name := strings.TrimSpace(strings.TrimPrefix(value, auth.SSMKeyPrefix))
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
	case strings.HasPrefix(value, auth.SecretsManagerKeyPrefix):
		id := strings.TrimSpace(strings.TrimPrefix(value, auth.SecretsManagerKeyPrefix))
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
	return auth.ParseKeyRing(text, activeKID)
}
