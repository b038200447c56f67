// Package awsparts lists every optional AWS-backed part of platform.Deps, for the programs that build any
// function's dependencies: the local runner, make invoke, the cold-start rig and the tests. A function's
// own main.go passes only the parts it uses (see platform.Option).
package awsparts

import (
	"github.com/rocker-app/corral/shared/auth/keyrefs"
	"github.com/rocker-app/corral/shared/dynamo"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/seal/sealkms"
)

// All returns every optional part: KMS sealing, signing-key references and the DynamoDB idempotency store.
func All() []platform.Option {
	return []platform.Option{
		platform.WithKMS(sealkms.Provider),
		platform.WithKeyReferences(keyrefs.Loader),
		platform.WithDynamoDB(dynamo.OpenIdempotencyStore),
	}
}
