// Command jwks prints the JWKS document of a JWT_SIGNING_KEYS key ring: the public halves of its keys
// (retired PUBLIC KEY blocks included), as auth-keys publishes them at /.well-known/jwks.json. It is the
// value of template.yaml's JwtPublicKeys, which every function gets as JWT_PUBLIC_KEY so that a cold
// start verifies tokens without fetching the JWKS first. `make jwks KEYS=keys.pem`; without -keys it
// prints the local development key's (`.local/dev-signing-key.pem`, the key `make dev` signs with).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		slog.Error("jwks", "error", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jwks", flag.ContinueOnError)
	keys := fs.String("keys", "", "a PEM file of signing keys, as JWT_SIGNING_KEYS holds them (default: the local development key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("unexpected arguments; usage: jwks [-keys keys.pem]")
	}
	doc, err := jwks(*keys)
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(doc, '\n'))
	return err
}

// jwks is the JWKS of the key ring in the PEM file path, or of the development signer when path is "".
func jwks(path string) ([]byte, error) {
	if path == "" {
		tpl, err := samtemplate.Find(".")
		if err != nil {
			return nil, err
		}
		signer, err := localrun.DevSigner(filepath.Join(filepath.Dir(tpl), ".local"))
		if err != nil {
			return nil, err
		}
		return signer.JWKS()
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ring, err := auth.ParseKeyRing(string(text), "")
	if err != nil {
		return nil, err
	}
	return ring.JWKS()
}
