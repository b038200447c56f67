// Command echo is a test function for the runtime API: it answers {"echo": <event>}, or fails when the
// event is "fail"; like Corral's functions it registers for SIGTERM (lambdax.RegisterForSIGTERM, an
// extension registration made during initialisation) and says "sigterm" on stdout when it gets one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocker-app/corral/shared/lambdax"
)

func main() {
	ctx := context.Background()
	registered := lambdax.RegisterForSIGTERM(ctx, os.Getenv("AWS_LAMBDA_RUNTIME_API"), slog.Default())
	registered()
	lambdax.OnSIGTERM(func() { fmt.Println("sigterm") })
	lambda.StartWithOptions(func(_ context.Context, ev json.RawMessage) (map[string]json.RawMessage, error) {
		if string(ev) == `"fail"` {
			return nil, errors.New("asked to fail")
		}
		return map[string]json.RawMessage{"echo": ev}, nil
	}, lambda.WithContext(ctx))
}
