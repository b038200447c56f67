// Package stripehook receives Stripe's webhook events: it verifies the Stripe-Signature header with
// stripe-go's webhook package (300 s tolerance), records each event id once in a ledger, and runs the
// handler registered for the event's type in the same transaction as the ledger row.
//
// The delivery contract with Stripe: any 2xx acknowledges an event; anything else makes Stripe retry it
// (with backoff, for up to three days). So
//   - a forged, stale or unsigned request is a 400 problem (Stripe's own deliveries never are);
//   - an event seen before is acknowledged (200) without running its handler again;
//   - an event of a type with no handler is recorded and acknowledged;
//   - a handler error rolls the ledger row back with everything the handler wrote and answers 500, so
//     the retry finds the event new and runs the handler again;
//   - with no signing secret configured the endpoint answers 500 to signed requests: events wait in
//     Stripe's retries until the secret is set, instead of being acknowledged and lost.
package stripehook

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v82"
)

// Tolerance is how old a signature's timestamp may be: Stripe's recommended 300 seconds, which bounds
// how long a captured request can be replayed.
const Tolerance = 300 * time.Second

// Handler processes one verified event inside the ledger transaction. Its writes commit together with the
// ledger row; an error rolls both back and the endpoint answers 500, so Stripe delivers the event again.
type Handler interface {
	Handle(ctx context.Context, tx pgx.Tx, ev stripe.Event) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, tx pgx.Tx, ev stripe.Event) error

// Handle implements Handler by calling f.
func (f HandlerFunc) Handle(ctx context.Context, tx pgx.Tx, ev stripe.Event) error {
	return f(ctx, tx, ev)
}

// Registry maps event types to their handlers. Build it once at cold start; it is safe for concurrent
// reads after that.
type Registry struct {
	handlers map[stripe.EventType]Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{handlers: map[stripe.EventType]Handler{}}
}

// Register sets the handler of event type t. It panics on an empty type, a nil handler or a type
// registered twice: a wiring mistake that every test building the function catches.
func (r *Registry) Register(t stripe.EventType, h Handler) {
	switch {
	case t == "":
		panic("stripehook: Register with an empty event type")
	case h == nil:
		panic(fmt.Sprintf("stripehook: Register(%q) with a nil handler", t))
	}
	if _, dup := r.handlers[t]; dup {
		panic(fmt.Sprintf("stripehook: %q registered twice", t))
	}
	r.handlers[t] = h
}

// Lookup returns the handler of event type t.
func (r *Registry) Lookup(t stripe.EventType) (Handler, bool) {
	h, ok := r.handlers[t]
	return h, ok
}

// Types lists the registered event types, sorted: the events to enable on the Stripe endpoint.
func (r *Registry) Types() []stripe.EventType {
	out := make([]stripe.EventType, 0, len(r.handlers))
	for t := range r.handlers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Event is what the ledger records about a verified event.
type Event struct {
	ID         string
	Type       string
	TenantID   string // from the event object's metadata.tenant_id when it is a UUID; "" otherwise
	Livemode   bool
	APIVersion string
	Created    time.Time
	Payload    []byte // the raw, verified body
}

// Ledger records each event id once. Process inserts e and, only when its id is new, runs fn in the same
// transaction; first reports whether the id was new. When fn returns an error the transaction rolls back,
// nothing is recorded, and that error is returned unchanged. handled tells the ledger whether a handler
// ran (false: acknowledged only). Concurrent deliveries of one id run fn at most once between them.
type Ledger interface {
	Process(ctx context.Context, e Event, fn func(tx pgx.Tx) (handled bool, err error)) (first bool, err error)
}

// record builds the ledger's view of ev.
func record(ev stripe.Event, payload []byte) Event {
	return Event{
		ID:         ev.ID,
		Type:       string(ev.Type),
		TenantID:   tenantOf(ev),
		Livemode:   ev.Livemode,
		APIVersion: ev.APIVersion,
		Created:    time.Unix(ev.Created, 0).UTC(),
		Payload:    payload,
	}
}

// tenantOf returns the canonical UUID in the event object's metadata.tenant_id, or "". Our Checkout
// sessions and payment intents carry it; Stripe's own objects (payouts, the account) do not.
func tenantOf(ev stripe.Event) string {
	if ev.Data == nil {
		return ""
	}
	md, ok := ev.Data.Object["metadata"].(map[string]any)
	if !ok {
		return ""
	}
	s, ok := md["tenant_id"].(string)
	if !ok {
		return ""
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return ""
	}
	return id.String()
}
