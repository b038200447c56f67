package catalog

import (
	"github.com/rocker-app/corral/shared/business"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
)

// Businesses serves the business directory: GET/POST /businesses, GET/PATCH/DELETE /businesses/{id}, and
// the members of a business.
func Businesses(d *platform.Deps) []platform.Route {
	s := postgres.NewBusinessStore(d.DB)
	read, write := readPolicy("businesses"), writePolicy("businesses")
	return []platform.Route{
		{Pattern: "GET /businesses", Handler: business.List(s, d.Cursors), Policy: read},
		{Pattern: "POST /businesses", Handler: business.Create(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /businesses/{id}", Handler: business.Get(s), Policy: read},
		{Pattern: "PATCH /businesses/{id}", Handler: business.Update(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "DELETE /businesses/{id}", Handler: business.Delete(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /businesses/{id}/members", Handler: business.Members(s, d.Cursors), Policy: read},
		{Pattern: "POST /businesses/{id}/members", Handler: business.AddMember(s), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "DELETE /businesses/{id}/members/{user_id}", Handler: business.RemoveMember(s), Policy: write, Idempotency: platform.IdempotencyOptional},
	}
}
