// Package dynamo is the DynamoDB adapter: the client built for Lambda or a local server, and the
// idempotency.Store kept in a DynamoDB table (chosen with IDEMPOTENCY_STORE=dynamodb).
package dynamo

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/idempotency"
)

// requestTimeout bounds one HTTP request to DynamoDB (the SDK retries within the caller's context): a
// slow table must not hold a request for the whole Lambda timeout.
const requestTimeout = 3 * time.Second

// NewClient returns a DynamoDB client for region, using the Lambda environment's credentials (see
// shared/awsenv). With an endpoint (a local server such as dynalite) it sends every request there with static
// local credentials. It makes no request; the error is always nil (kept for callers that wrap it).
func NewClient(_ context.Context, region, endpoint string) (*dynamodb.Client, error) {
	cfg := awsenv.Config(os.Getenv, awsenv.Options{Region: region, Endpoint: endpoint, Timeout: requestTimeout})
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// OpenIdempotencyStore builds the client for region (endpoint: a local server, else empty) and the
// idempotency store kept in table; platform.WithDynamoDB takes it, so that only the functions whose routes
// take an Idempotency-Key link the DynamoDB client. It makes no request.
func OpenIdempotencyStore(ctx context.Context, region, endpoint, table string) (idempotency.Store, error) {
	c, err := NewClient(ctx, region, endpoint)
	if err != nil {
		return nil, err
	}
	return NewIdempotencyStore(c, table), nil
}
