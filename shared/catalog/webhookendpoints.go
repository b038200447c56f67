package catalog

import (
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/webhook"
)

// WebhookEndpoints serves the tenant's outbound webhook settings, for its owners and admins only:
// GET/POST /webhooks/endpoints, DELETE /webhooks/endpoints/{id}, POST /webhooks/endpoints/{id}/rotate-secret,
// GET /webhooks/endpoints/{id}/deliveries and POST /webhooks/deliveries/{id}/retry.
//
// No route takes an Idempotency-Key. Create and rotate answer with the secret, which a stored replay
// would keep in the idempotency store for a day; delete is idempotent by nature; a repeated retry answers
// 409 while the first is pending.
func WebhookEndpoints(d *platform.Deps) []platform.Route {
	s := postgres.NewWebhookStore(d.DB, nil)
	guard := webhook.NewGuard(d.Config.WebhookAllowedHosts)
	read, write := readPolicy("webhooks"), writePolicy("webhooks")
	return []platform.Route{
		{Pattern: "GET /webhooks/endpoints", Handler: webhook.ListEndpoints(s, d.Cursors), Policy: read},
		{Pattern: "POST /webhooks/endpoints", Handler: webhook.CreateEndpoint(s, guard), Policy: write},
		{Pattern: "DELETE /webhooks/endpoints/{id}", Handler: webhook.DeleteEndpoint(s), Policy: write},
		{Pattern: "POST /webhooks/endpoints/{id}/rotate-secret", Handler: webhook.RotateSecret(s), Policy: write},
		{Pattern: "GET /webhooks/endpoints/{id}/deliveries", Handler: webhook.ListDeliveries(s, d.Cursors), Policy: read},
		{Pattern: "POST /webhooks/deliveries/{id}/retry", Handler: webhook.RetryDelivery(s, webhookQueue(d), d.Log), Policy: write},
	}
}
