// Package awsenv builds the AWS SDK configuration of a Lambda function from its environment, which is
// where Lambda puts everything the SDK needs: the region (AWS_REGION) and the execution role's session
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
//
// It stands in for config.LoadDefaultConfig, whose credential chain links the SSO, SSO OIDC, STS and
// sign-in clients and a shared-config parser into every binary: about 1.3 ms of package initialisation at
// every cold start and megabytes of binary, for providers a Lambda function never reaches (the chain's
// first provider, the environment, always answers there). Outside Lambda, point the client at a local
// server (an endpoint, with static local credentials), or export credentials into the environment, e.g.
// `eval "$(aws configure export-credentials --format env)"`.
package awsenv

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Options are the settings of one client's configuration.
type Options struct {
	Region string
	// Endpoint, when set, is a local server (fauxqs, dynalite, ...): the client gets static local
	// credentials and the caller points the service client at it (BaseEndpoint).
	Endpoint string
	// Timeout bounds one HTTP request (the SDK retries within the caller's context); 0 means none.
	Timeout time.Duration
}

// ErrNoCredentials is the error of every call when there is no endpoint and the environment holds no
// credentials; like the SDK's own chain, Config does not fail for it, the first call does.
var ErrNoCredentials = errors.New("awsenv: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): " +
	"Lambda sets them; locally, set the service's endpoint variable to a local server or export credentials")

// Config returns the SDK configuration for o, reading credentials through getenv. It makes no call.
func Config(getenv func(string) string, o Options) aws.Config {
	cfg := aws.Config{Region: o.Region}
	client := awshttp.NewBuildableClient()
	if o.Timeout > 0 {
		client = client.WithTimeout(o.Timeout)
	}
	cfg.HTTPClient = client
	if o.Endpoint != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		return cfg
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, ErrNoCredentials
		})
		return cfg
	}
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")))
	return cfg
}
