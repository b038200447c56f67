// Package dynamo is the DynamoDB adapter: the client built for Lambda or a local server, and the
// idempotency.Store kept in a DynamoDB table (chosen with IDEMPOTENCY_STORE=dynamodb).
//
// It speaks DynamoDB's JSON protocol through shared/awsjson instead of linking the SDK's DynamoDB client:
// the store needs four item operations, and the generated client costs about 1.8 MB of binary and
// milliseconds of package initialisation at every cold start of each function that links it.
package dynamo

import (
	"context"
	"os"
	"time"

	"github.com/rocker-app/corral/shared/awsenv"
	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/idempotency"
)

// requestTimeout bounds one attempt of a request to DynamoDB (awsjson retries throttling and 5xx within
// the caller's context): a slow table must not hold a request for the whole Lambda timeout.
const requestTimeout = 3 * time.Second

// NewClient returns a DynamoDB client for region, using the Lambda environment's credentials (see
// shared/awsenv). With an endpoint (a local server such as dynalite) it sends every request there with
// static local credentials. It makes no request.
func NewClient(region, endpoint string) *awsjson.Client {
	cfg := awsenv.Config(os.Getenv, awsenv.Options{Region: region, Endpoint: endpoint})
	return awsjson.New(cfg, awsjson.DynamoDB, awsjson.Options{Endpoint: endpoint, Timeout: requestTimeout})
}

// OpenIdempotencyStore builds the client for region (endpoint: a local server, else empty) and the
// idempotency store kept in table; platform.WithDynamoDB takes it, so that only the functions whose routes
// take an Idempotency-Key link the DynamoDB adapter. It makes no request; the error is always nil (the
// signature is platform.WithDynamoDB's).
func OpenIdempotencyStore(_ context.Context, region, endpoint, table string) (idempotency.Store, error) {
	return NewIdempotencyStore(NewClient(region, endpoint), table), nil
}
