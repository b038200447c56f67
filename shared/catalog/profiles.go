package catalog

import (
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/profile"
)

// Profiles serves the caller's profile (GET and PATCH /me) and other members' (GET /profiles/{id}).
func Profiles(d *platform.Deps) []platform.Route {
	s := postgres.NewProfileStore(d.DB, d.RequireSealer())
	read, write := readPolicy("profiles"), writePolicy("profiles")
	return []platform.Route{
		{Pattern: "GET /me", Handler: profile.Me(s), Policy: read},
		{Pattern: "PATCH /me", Handler: profile.UpdateMe(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /profiles/{id}", Handler: profile.Get(s), Policy: read},
	}
}
