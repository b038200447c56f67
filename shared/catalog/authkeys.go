package catalog

import (
	"errors"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/ratelimit"
)

// AuthKeys serves GET /.well-known/jwks.json: the public keys of the token signing key ring
// (JWT_SIGNING_KEYS), public, limited per client IP generously (verifiers cache the document for
// auth.JWKSCacheControl, and many of them may share a NAT address). Without signing keys the route answers
// 500, so the misconfiguration shows instead of an empty key set that would refuse every token.
func AuthKeys(d *platform.Deps) []platform.Route {
	h, err := auth.JWKSHandler(d.KeyRing)
	if err != nil {
		if d.KeyRing == nil {
			err = errors.New("catalog: auth-keys needs JWT_SIGNING_KEYS")
		}
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteError(w, r, httpapi.Internal(err))
		})
	}
	return []platform.Route{{
		Pattern: "GET /.well-known/jwks.json",
		Handler: h,
		Public:  true,
		Policy:  ratelimit.Policy{Name: "auth.keys", Rate: 600, Period: time.Minute, Burst: 100, Scope: ratelimit.ScopeIP},
	}}
}
