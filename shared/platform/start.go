package platform

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/logging"
)

// HTTPFunction builds a function's route table from its dependencies.
type HTTPFunction func(d *Deps) []Route

// StartHTTP is the whole of an HTTP function's main: read the configuration (failing with a message that
// names each bad variable), build the clients once, and serve API Gateway events until the runtime stops.
func StartHTTP(ctx context.Context, name string, getenv func(string) string, fn HTTPFunction) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cfg.Function == "corral" {
		cfg.Function = name
	}
	log := logging.New(os.Stdout, cfg.LogLevel, cfg.Function)
	d, err := NewDeps(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	h := Handler(d, fn(d))
	lambda.StartWithOptions(lambdax.HTTP(h), lambda.WithContext(ctx), lambda.WithEnableSIGTERM(d.Close))
	return nil
}
