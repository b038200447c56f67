package catalog

import (
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Horses serves the horse directory: GET/POST /horses and GET/PATCH/DELETE /horses/{id}. A create emits
// horse.created through the outbox (published right after the commit, else by the outbox relay). The
// writes' only effects are their statements on d.DB, so their idempotency lease rides those statements
// (middleware.EffectsInTx).
func Horses(d *platform.Deps) []platform.Route {
	events := outbox.New(d.DB, sqsx.NewPublisher(d.SQS, d.Config.Queues), d.Log, outbox.Options{})
	s := postgres.NewHorseStore(d.DB).WithEvents(events)
	read, write := readPolicy("horses"), writePolicy("horses")
	return []platform.Route{
		{Pattern: "GET /horses", Handler: horse.List(s, d.Cursors), Policy: read},
		{Pattern: "POST /horses", Handler: middleware.EffectsInTx(horse.Create(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "GET /horses/{id}", Handler: horse.Get(s), Policy: read},
		{Pattern: "PATCH /horses/{id}", Handler: middleware.EffectsInTx(horse.Update(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
		{Pattern: "DELETE /horses/{id}", Handler: middleware.EffectsInTx(horse.Delete(s)), Policy: write, Idempotency: platform.IdempotencyOptional},
	}
}
