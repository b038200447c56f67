package catalog

import (
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/postgres"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/stripehook"
)

// StripeWebhook serves POST /webhooks/stripe: public (Stripe signs instead of authenticating), limited
// per client IP generously enough for Stripe's own bursts (it retries a backlog after an outage), with
// each event recorded once in stripe_events. Checkout sessions are recorded on the ledger row until the
// marketplace wires its orders in through stripehook.CheckoutSessions.
func StripeWebhook(d *platform.Deps) []platform.Route {
	store := postgres.NewStripeEventStore(d.DB)
	return []platform.Route{{
		Pattern: "POST /webhooks/stripe",
		Handler: stripehook.Endpoint(d.Config.StripeWebhookSecret, store, stripeHandlers(stripehook.RecordCheckout(store))),
		Public:  true,
		Policy:  ratelimit.Policy{Name: "stripe.webhook", Rate: 600, Period: time.Minute, Burst: 100, Scope: ratelimit.ScopeIP},
	}}
}

// stripeHandlers registers the handler of every Stripe event type we act on. Enable exactly these types
// on the Stripe endpoint; others are recorded and acknowledged.
func stripeHandlers(checkout stripehook.CheckoutSessions) *stripehook.Registry {
	r := stripehook.NewRegistry()
	h := stripehook.Checkout(checkout)
	r.Register(stripe.EventTypeCheckoutSessionCompleted, h)
	r.Register(stripe.EventTypeCheckoutSessionExpired, h)
	return r
}
