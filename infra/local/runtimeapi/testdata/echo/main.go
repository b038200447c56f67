// Command echo is a test function for the runtime API: it answers {"echo": <event>}, or fails when the
// event is "fail"; like Corral's functions it enables SIGTERM (an extension registration).
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartWithOptions(func(_ context.Context, ev json.RawMessage) (map[string]json.RawMessage, error) {
		if string(ev) == `"fail"` {
			return nil, errors.New("asked to fail")
		}
		return map[string]json.RawMessage{"echo": ev}, nil
	}, lambda.WithEnableSIGTERM(func() {}))
}
