// Package keyrefs resolves JWT_SIGNING_KEYS values that refer to where the key ring is kept (an SSM
// parameter or a Secrets Manager secret) instead of holding the PEM text. It is a package of its own so
// that only the token-issuing functions link it. It calls the two operations it needs through
// shared/awsjson: the SDK's generated SSM and Secrets Manager clients cost about 2 MB of binary and
// milliseconds of package initialisation at every cold start.
package keyrefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/awsjson"
)

// Loader resolves value (JWT_SIGNING_KEYS: PEM text or a reference) with the Lambda environment's region
// and credentials (see shared/awsenv), with one call bounded by ctx; platform.WithKeyReferences takes it.
// (Functions in the VPC reach SSM / Secrets Manager through their VPC interface endpoints or a NAT.)
func Loader(ctx context.Context, region, value, activeKID string) (*auth.KeyRing, error) {
	var src Sources
	if auth.IsKeyReference(value) {
		src = newSources(awsenv.Config(os.Getenv, awsenv.Options{Region: region}))
	}
	return LoadKeyRing(ctx, value, activeKID, src)
}

// newSources returns the clients of both stores for cfg's region and credentials.
func newSources(cfg aws.Config) Sources {
	return Sources{
		SSM:            awsjson.New(cfg, awsjson.SSM, awsjson.Options{}),
		SecretsManager: awsjson.New(cfg, awsjson.SecretsManager, awsjson.Options{}),
	}
}

// Sources are the stores a JWT_SIGNING_KEYS reference may point into: clients of SSM (awsjson.SSM) and
// Secrets Manager (awsjson.SecretsManager). A nil field means that kind of reference is refused; PEM text
// needs neither.
type Sources struct {
	SSM            *awsjson.Client
	SecretsManager *awsjson.Client
}

// The members of SSM's GetParameter and Secrets Manager's GetSecretValue that LoadKeyRing uses.
type (
	getParameterInput struct {
		Name           string
		WithDecryption bool
	}
	getParameterOutput struct {
		Parameter *struct{ Value string }
	}
	getSecretValueInput struct {
		SecretID string `json:"SecretId"`
	}
	getSecretValueOutput struct {
		SecretString string
		SecretBinary []byte
	}
)

// LoadKeyRing builds the ring from a JWT_SIGNING_KEYS value: PEM text (see ParseKeyRing), or
// "ssm:<parameter name or ARN>" / "secretsmanager:<secret id or ARN>", which is resolved now, with one
// call (tried again on throttling or a 5xx) bounded by ctx, through src. activeKID is JWT_SIGNING_KID. It
// fails when the value is empty, the reference names a store src lacks, the store call fails or returns
// nothing, or the text is not a valid key ring; errors name the reference, never the key material (a
// store's error is wrapped with %w, as an *awsjson.Error when the store answered with one).
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
		var out getParameterOutput
		if err := src.SSM.Call(ctx, "GetParameter", getParameterInput{Name: name, WithDecryption: true}, &out); err != nil {
			return nil, fmt.Errorf("auth: JWT signing keys: read SSM parameter %q: %w", name, err)
		}
		if out.Parameter == nil || out.Parameter.Value == "" {
			return nil, fmt.Errorf("auth: JWT signing keys: SSM parameter %q is empty", name)
		}
		text = out.Parameter.Value
	case strings.HasPrefix(value, auth.SecretsManagerKeyPrefix):
		id := strings.TrimSpace(strings.TrimPrefix(value, auth.SecretsManagerKeyPrefix))
		if id == "" || src.SecretsManager == nil {
			return nil, fmt.Errorf("auth: JWT signing keys %q: no secret id or no Secrets Manager client", value)
		}
		var out getSecretValueOutput
		if err := src.SecretsManager.Call(ctx, "GetSecretValue", getSecretValueInput{SecretID: id}, &out); err != nil {
			return nil, fmt.Errorf("auth: JWT signing keys: read secret %q: %w", id, err)
		}
		text = out.SecretString
		if text == "" {
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
