package stripehook

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v82"
)

// CheckoutSessions is what the marketplace implements to turn Checkout into orders: it is called inside
// the ledger transaction, once per event, with the decoded session. An error rolls everything back and
// Stripe retries the event.
type CheckoutSessions interface {
	// Completed handles checkout.session.completed: the customer finished paying (or, for delayed
	// payment methods, submitted the payment: check s.PaymentStatus).
	Completed(ctx context.Context, tx pgx.Tx, ev stripe.Event, s *stripe.CheckoutSession) error
	// Expired handles checkout.session.expired: the session can no longer be paid; release what it held.
	Expired(ctx context.Context, tx pgx.Tx, ev stripe.Event, s *stripe.CheckoutSession) error
}

// CheckoutTypes are the event types Checkout handles.
var CheckoutTypes = []stripe.EventType{
	stripe.EventTypeCheckoutSessionCompleted,
	stripe.EventTypeCheckoutSessionExpired,
}

// Checkout returns the Handler of the CheckoutTypes: it decodes the event's session and calls cs. A body
// that does not decode as a session, or another event type, is an error (so a wiring mistake is retried
// and seen, not acknowledged).
func Checkout(cs CheckoutSessions) Handler {
	return HandlerFunc(func(ctx context.Context, tx pgx.Tx, ev stripe.Event) error {
		if ev.Data == nil || len(ev.Data.Raw) == 0 {
			return fmt.Errorf("stripehook: %s %s has no data object", ev.Type, ev.ID)
		}
		var s stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
			return fmt.Errorf("stripehook: %s %s: decode the session: %w", ev.Type, ev.ID, err)
		}
		if s.ID == "" {
			return fmt.Errorf("stripehook: %s %s: the session has no id", ev.Type, ev.ID)
		}
		switch ev.Type {
		case stripe.EventTypeCheckoutSessionCompleted:
			return cs.Completed(ctx, tx, ev, &s)
		case stripe.EventTypeCheckoutSessionExpired:
			return cs.Expired(ctx, tx, ev, &s)
		default:
			return fmt.Errorf("stripehook: Checkout cannot handle %s", ev.Type)
		}
	})
}

// ObjectRecorder notes, on an event's ledger row, the object the event was about and its status.
type ObjectRecorder interface {
	RecordObject(ctx context.Context, tx pgx.Tx, eventID, objectID, status string) error
}

// RecordCheckout is the CheckoutSessions in place until the marketplace's: it records each session's id
// and status (complete or expired) on the event's ledger row, so the ledger answers "what happened to
// session cs_..." already.
func RecordCheckout(r ObjectRecorder) CheckoutSessions {
	return recordCheckout{r}
}

type recordCheckout struct{ r ObjectRecorder }

func (c recordCheckout) Completed(ctx context.Context, tx pgx.Tx, ev stripe.Event, s *stripe.CheckoutSession) error {
	return c.r.RecordObject(ctx, tx, ev.ID, s.ID, string(s.Status))
}

func (c recordCheckout) Expired(ctx context.Context, tx pgx.Tx, ev stripe.Event, s *stripe.CheckoutSession) error {
	return c.r.RecordObject(ctx, tx, ev.ID, s.ID, string(s.Status))
}
