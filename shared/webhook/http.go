package webhook

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 16 << 10

// RotationOverlap is how long a rotated-out secret keeps signing alongside the new one.
const RotationOverlap = 24 * time.Hour

// RetrySafetyNet is how long after a manual retry SweepDue queues the attempt again, should the queue
// message be lost.
const RetrySafetyNet = 5 * time.Minute

// WithSecret is an endpoint with its secret, the answer of create and rotate: the only time the secret is
// shown.
type WithSecret struct {
	Endpoint
	Secret string `json:"secret"`
}

// ListEndpoints serves GET /webhooks/endpoints: the tenant's endpoints, newest first, ?limit= and ?cursor=.
func ListEndpoints(s EndpointStore, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := manager(r)
		if err != nil {
			return err
		}
		q, err := query(r, cursors)
		if err != nil {
			return err
		}
		page, err := s.ListEndpoints(r.Context(), p, q)
		if err != nil {
			return storeError(err)
		}
		resp := httpapi.ListResponse[Endpoint]{Items: page.Endpoints}
		if resp.Items == nil {
			resp.Items = []Endpoint{}
		}
		if resp.NextCursor, err = next(cursors, page.Next); err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, resp)
		return nil
	})
}

// CreateEndpoint serves POST /webhooks/endpoints: 201 with the endpoint and its secret, shown this once.
// The URL must pass guard (https, a public address); a refusal is a 400 on the url field.
func CreateEndpoint(s EndpointStore, guard *Guard) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := manager(r)
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[CreateRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		if err := guard.CheckURL(r.Context(), in.URL); err != nil {
			return httpapi.Invalid(httpapi.FieldProblem{Field: "url", Reason: refusal(err)})
		}
		secret := NewSecret()
		e, err := s.CreateEndpoint(r.Context(), p, NewEndpoint{URL: in.URL, Description: in.Description, EventTypes: in.EventTypes, Secret: secret})
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusCreated, WithSecret{Endpoint: e, Secret: secret})
		return nil
	})
}

// DeleteEndpoint serves DELETE /webhooks/endpoints/{id}: 204. Its deliveries go with it.
func DeleteEndpoint(s EndpointStore) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, id, err := managerAndID(r)
		if err != nil {
			return err
		}
		if err := s.DeleteEndpoint(r.Context(), p, id); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RotateSecret serves POST /webhooks/endpoints/{id}/rotate-secret: 200 with the endpoint and its new
// secret, shown this once. The previous secret keeps signing, alongside, for RotationOverlap.
func RotateSecret(s EndpointStore) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, id, err := managerAndID(r)
		if err != nil {
			return err
		}
		secret := NewSecret()
		e, err := s.RotateSecret(r.Context(), p, id, secret, RotationOverlap)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, WithSecret{Endpoint: e, Secret: secret})
		return nil
	})
}

// ListDeliveries serves GET /webhooks/endpoints/{id}/deliveries: the endpoint's deliveries with their
// attempts, newest first, ?limit= and ?cursor=.
func ListDeliveries(s EndpointStore, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, id, err := managerAndID(r)
		if err != nil {
			return err
		}
		q, err := query(r, cursors)
		if err != nil {
			return err
		}
		page, err := s.ListDeliveries(r.Context(), p, id, q)
		if err != nil {
			return storeError(err)
		}
		resp := httpapi.ListResponse[Delivery]{Items: page.Deliveries}
		if resp.Items == nil {
			resp.Items = []Delivery{}
		}
		if resp.NextCursor, err = next(cursors, page.Next); err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, resp)
		return nil
	})
}

// RetryDelivery serves POST /webhooks/deliveries/{id}/retry: 202 with the delivery, now pending, and its
// next attempt queued at once. A delivery already pending, or of a disabled endpoint, is a 409. When
// queueing fails the answer is still 202: the sweep queues the attempt after RetrySafetyNet.
func RetryDelivery(s EndpointStore, queue Enqueuer, log *slog.Logger) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, id, err := managerAndID(r)
		if err != nil {
			return err
		}
		dl, err := s.RetryDelivery(r.Context(), p, id, RetrySafetyNet)
		if err != nil {
			return storeError(err)
		}
		job := Job{DeliveryID: dl.ID, TenantID: p.TenantID, Attempt: dl.Attempt + 1}
		if err := queue.Enqueue(r.Context(), job); err != nil {
			log.LogAttrs(r.Context(), slog.LevelWarn, "webhook: queueing a manual retry failed; the sweep will queue it",
				slog.String("delivery_id", dl.ID), slog.Any("error", err))
		}
		httpapi.WriteJSON(w, r, http.StatusAccepted, dl)
		return nil
	})
}

// manager returns the caller when they may manage the tenant's webhooks (owners and admins): 403 otherwise.
func manager(r *http.Request) (auth.Principal, error) {
	p, err := httpapi.Caller(r)
	if err != nil {
		return p, err
	}
	if !p.CanManageTenant() {
		return p, httpapi.Errorf(httpapi.CodeForbidden, "only the tenant's owners and admins may manage webhooks")
	}
	return p, nil
}

func managerAndID(r *http.Request) (auth.Principal, string, error) {
	p, err := manager(r)
	if err != nil {
		return p, "", err
	}
	id, err := httpapi.PathID(r, "id")
	return p, id, err
}

func query(r *http.Request, cursors *httpapi.Cursors) (Query, error) {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		return Query{}, err
	}
	after, err := httpapi.DecodeCursor(cursors, page.Cursor, Position.valid)
	if err != nil {
		return Query{}, err
	}
	return Query{Limit: page.Limit, After: after}, nil
}

func next(cursors *httpapi.Cursors, pos *Position) (string, error) {
	if pos == nil {
		return "", nil
	}
	s, err := cursors.Encode(pos)
	if err != nil {
		return "", httpapi.Internal(err)
	}
	return s, nil
}

// refusal is the reason shown for a URL the guard refused.
func refusal(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return "is not allowed"
}

// storeError maps the stores' errors to API errors; anything else is internal.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return httpapi.ErrNotFound
	case errors.Is(err, ErrRetryConflict):
		return httpapi.Errorf(httpapi.CodeConflict, "the delivery is already waiting for an attempt, or its endpoint is disabled")
	default:
		return httpapi.Internal(err)
	}
}
