package catalog

import (
	"github.com/rocker-app/corral/shared/entity"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
)

// EntityLookup serves GET /entities/search: one search over profiles, horses and businesses.
func EntityLookup(d *platform.Deps) []platform.Route {
	return []platform.Route{
		{Pattern: "GET /entities/search", Handler: entity.Search(postgres.NewEntityStore(d.DB)), Policy: searchPolicy("entities")},
	}
}
