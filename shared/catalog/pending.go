package catalog

import "github.com/rocker-app/corral/shared/platform"

// Placeholders replaced by the domain wiring files as each function lands.
var (
	EntityLookup platform.HTTPFunction = func(*platform.Deps) []platform.Route { return nil }
)
