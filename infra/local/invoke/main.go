// Command invoke runs one function's Lambda handler on an event file and prints the response, like
// `sam local invoke -e`: `make invoke FN=horses EVENT=events/horses/get.json`. HTTP events are sent with a
// token of a seeded user (EMAIL, default owner@sunrise.test) unless they carry an authorization header.
// Queue consumers take SQS events (FN=jobs-worker EVENT=events/jobs-worker/<case>.json) and print their
// batch response; scheduled functions take Scheduled Events (FN=cleanup EVENT=events/cleanup/scheduled.json)
// and print {"ok": true}. With SQS_ENDPOINT set, the template's queues exist locally and functions get
// their URLs, so what they publish lands where `make dev` polls.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/awsparts"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv); err != nil {
		slog.Error("invoke", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fn := fs.String("fn", "", "function name (directory under functions/)")
	eventPath := fs.String("event", "", "event file, e.g. events/horses/get.json")
	email := fs.String("email", "owner@sunrise.test", "seeded user whose token HTTP events carry; empty for none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fn == "" || *eventPath == "" {
		return errors.New("usage: invoke -fn NAME -event FILE [-email EMAIL]")
	}
	event, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	tplPath, err := samtemplate.Find(".")
	if err != nil {
		return err
	}
	tpl, err := samtemplate.Load(tplPath)
	if err != nil {
		return err
	}
	signer, err := localrun.DevSigner(filepath.Join(filepath.Dir(tplPath), ".local"))
	if err != nil {
		return err
	}
	env, err := localrun.DevEnv(getenv, signer)
	if err != nil {
		return err
	}
	ownerURL := env("DATABASE_OWNER_URL")
	if ownerURL == "" {
		ownerURL = localrun.DefaultOwnerURL
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	cfg.Function = *fn
	// No function attribute here: the invoker adds the function name itself.
	deps, err := platform.NewDeps(ctx, cfg, logging.NewBase(os.Stderr, cfg.LogLevel), awsparts.All()...)
	if err != nil {
		return err
	}
	defer deps.Close()
	// The seed seals its personal data with the functions' own keys (NewDeps makes no connection).
	if err := localrun.Prepare(ctx, ownerURL, deps.Sealer, deps.BlindIndex); err != nil {
		return err
	}
	token := ""
	if *email != "" {
		u, ok := localrun.FindSeedUser(*email)
		if !ok {
			return errors.New("no seeded user " + *email)
		}
		if token, err = localrun.DevToken(signer, u); err != nil {
			return err
		}
	}
	if _, err := localrun.SetupQueues(ctx, deps, tpl); err != nil {
		return err
	}
	iv := &localrun.Invoker{Template: tpl, Deps: deps, Functions: catalog.HTTP(), SQS: catalog.SQS(), Schedules: catalog.Schedules()}
	resp, err := iv.Invoke(ctx, *fn, event, token)
	if err != nil {
		return err
	}
	if resp == nil {
		resp = map[string]bool{"ok": true}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(resp)
}
