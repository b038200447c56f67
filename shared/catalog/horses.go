package catalog

import (
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
)

// Horses serves the horse directory: GET/POST /horses and GET/PATCH/DELETE /horses/{id}. A create emits
// horse.created through the outbox, in the same statement as the horse; the outbox relay publishes it
// (see OutboxRelay: no SQS call on the request's path). The writes' only effects are their statements on
// d.DB, so their idempotency lease rides those statements (middleware.EffectsInTx).
func Horses(d *platform.Deps) []platform.Route {
	s := postgres.NewHorseStore(d.DB)
	read, write := readPolicy("horses"), writePolicy("horses")
	return []platform.Route{
		{Pattern: "GET /horses", Handler: horse.List(s, d.Cursors), Policy: read},
		{Pattern: "POST /horses", Handler: middleware.EffectsInTx(horse.Create(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /horses/{id}", Handler: horse.Get(s), Policy: read},
		{Pattern: "PATCH /horses/{id}", Handler: middleware.EffectsInTx(horse.Update(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "DELETE /horses/{id}", Handler: middleware.EffectsInTx(horse.Delete(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
	}
}
