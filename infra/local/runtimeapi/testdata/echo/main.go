// Command echo is a test function for the runtime API: it answers {"echo": <event>}, or fails when the
// event is "fail"; it registers for SIGTERM as aws-lambda-go does (lambda.WithEnableSIGTERM, an
// extension registration made during initialisation) and says "sigterm" on stdout when it gets one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartWithOptions(func(_ context.Context, ev json.RawMessage) (map[string]json.RawMessage, error) {
		if string(ev) == `"fail"` {
			return nil, errors.New("asked to fail")
		}
		return map[string]json.RawMessage{"echo": ev}, nil
	}, lambda.WithContext(context.Background()), lambda.WithEnableSIGTERM(func() { fmt.Println("sigterm") }))
}
