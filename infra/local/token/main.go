// Command token prints an access token for a seeded user of the local runner:
// `make token EMAIL=owner@sunrise.test`. The identity service replaces it with real sign-in.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		slog.Error("token", "error", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	email := fs.String("email", "owner@sunrise.test", "a seeded user's email")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, ok := localrun.FindSeedUser(*email)
	if !ok {
		var known []string
		for _, s := range localrun.SeedUsers {
			known = append(known, s.Email)
		}
		return errors.New("no seeded user " + *email + "; try one of " + strings.Join(known, ", "))
	}
	tpl, err := samtemplate.Find(".")
	if err != nil {
		return err
	}
	signer, err := localrun.DevSigner(filepath.Join(filepath.Dir(tpl), ".local"))
	if err != nil {
		return err
	}
	tok, err := localrun.DevToken(signer, u)
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(tok + "\n")
	return err
}
