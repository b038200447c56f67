package stripehook

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// SignatureHeader is the header Stripe signs its deliveries with.
const SignatureHeader = "Stripe-Signature"

// Received is the body of a 2xx answer. Stripe ignores it; it helps whoever reads the delivery log in
// Stripe's dashboard.
type Received struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Duplicate bool   `json:"duplicate"` // the event was recorded before: nothing was run
}

// Endpoint returns the handler of POST /webhooks/stripe. secret is the endpoint's signing secret
// (whsec_...); the body limit is the platform's BodyLimit, read here in full before verification.
// Answers: 200 with Received for a new or duplicate event; 400 problem for a missing, malformed, forged or
// stale signature or a body that is not an event; 413 for a body over the limit; 500 when the secret is
// not configured, the ledger fails, or a handler fails (Stripe retries).
func Endpoint(secret string, ledger Ledger, handlers *Registry) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return httpapi.Errorf(httpapi.CodeTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
			}
			return httpapi.Errorf(httpapi.CodeInvalid, "the body could not be read")
		}
		header := r.Header.Get(SignatureHeader)
		if header == "" {
			return httpapi.Errorf(httpapi.CodeInvalid, "the %s header is missing", SignatureHeader)
		}
		if secret == "" {
			return httpapi.Internal(errors.New("stripehook: STRIPE_WEBHOOK_SECRET is not set; Stripe will retry"))
		}
		// The API version is checked below, after the signature, so that a version mismatch is logged
		// instead of refusing (and so losing) a genuine event.
		ev, err := webhook.ConstructEventWithOptions(payload, header, secret, webhook.ConstructEventOptions{
			Tolerance: Tolerance, IgnoreAPIVersionMismatch: true,
		})
		if err != nil {
			return refused(r, err)
		}
		if ev.ID == "" || ev.Type == "" {
			return httpapi.Errorf(httpapi.CodeInvalid, "the body is not a Stripe event")
		}
		log := logging.FromContext(r.Context()).With(slog.String("stripe_event", ev.ID), slog.String("stripe_type", string(ev.Type)))
		if !sameReleaseTrain(ev.APIVersion) {
			log.LogAttrs(r.Context(), slog.LevelWarn, "stripe: event rendered with another API version; set the endpoint's version to "+stripe.APIVersion,
				slog.String("api_version", ev.APIVersion))
		}

		h, known := handlers.Lookup(ev.Type)
		first, err := ledger.Process(r.Context(), record(ev, payload), func(tx pgx.Tx) (bool, error) {
			if !known {
				return false, nil
			}
			return true, h.Handle(r.Context(), tx, ev)
		})
		if err != nil {
			return httpapi.Internal(err)
		}
		switch {
		case !first:
			log.LogAttrs(r.Context(), slog.LevelInfo, "stripe: duplicate event acknowledged")
		case !known:
			log.LogAttrs(r.Context(), slog.LevelInfo, "stripe: event recorded; no handler for its type")
		default:
			log.LogAttrs(r.Context(), slog.LevelInfo, "stripe: event processed")
		}
		httpapi.WriteJSON(w, r, http.StatusOK, Received{ID: ev.ID, Type: string(ev.Type), Duplicate: !first})
		return nil
	})
}

// refused turns a verification failure into a 400 problem, logged at warn: a stream of them means a
// wrong secret (after a rotation) or someone probing the endpoint.
func refused(r *http.Request, err error) error {
	msg := "the body is not a Stripe event"
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		msg = "the signature's timestamp is outside the tolerance"
	case errors.Is(err, webhook.ErrNoValidSignature):
		msg = "no valid signature"
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNotSigned):
		msg = "the " + SignatureHeader + " header is malformed"
	}
	logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "stripe: delivery refused", slog.String("reason", msg), slog.Any("error", err))
	return httpapi.Errorf(httpapi.CodeInvalid, "%s", msg)
}

// sameReleaseTrain reports whether an event's API version (e.g. 2025-08-27.basil) is of the release
// train stripe-go decodes (stripe.APIVersion).
func sameReleaseTrain(v string) bool {
	_, want, _ := strings.Cut(stripe.APIVersion, ".")
	_, got, ok := strings.Cut(v, ".")
	return ok && got == want
}
