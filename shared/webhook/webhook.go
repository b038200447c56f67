// Package webhook delivers a tenant's events to the HTTPS endpoints it registers, following Standard
// Webhooks (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp and webhook-signature,
// the signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed by the endpoint's whsec_ secret.
//
// The pieces:
//   - endpoints: registered, listed, deleted and given a new secret through the HTTP handlers in http.go,
//     by the tenant's owners and admins only; a rotated-out secret keeps signing, alongside the new one,
//     for an overlap (24 h), so receivers can switch without losing a delivery;
//   - FanOut: one delivery per enabled endpoint subscribed to an event's type, queued at once;
//   - Dispatcher.Handle: one attempt of one delivery (a queue message), recorded per attempt, with the retry
//     schedule of DefaultSchedule: waits up to Options.MaxQueueDelay go back through the queue's message
//     delay, longer ones are stored as the delivery's next_attempt_at and re-queued by SweepDue;
//   - Guard: deliveries go to public addresses only, checked when an endpoint is registered and again when
//     each connection is dialled, so DNS rebinding cannot reach a private address.
//
// Persistence is behind EndpointStore and DeliveryStore (shared/postgres implements both), the queue
// behind Enqueuer (shared/sqsx through the catalog). Tenant isolation is the database's row-level
// security: another tenant's endpoint or delivery is simply not found.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
)

// Endpoint is a registered receiver as the API shows it. The secret is never part of it: it is returned
// once, by create and rotate.
type Endpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	// PreviousSecretExpiresAt is when the secret replaced by the last rotation stops signing; null when
	// only one secret signs.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	DisabledAt              *time.Time `json:"disabled_at"`
	DisabledReason          *string    `json:"disabled_reason"`
	FailingSince            *time.Time `json:"failing_since"`
	CreatedBy               *string    `json:"created_by"`
	CreatedAt               time.Time  `json:"created_at"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"   // waiting for its first attempt, or for a manual retry
	StatusFailed    = "failed"    // the last attempt failed; another is scheduled
	StatusSucceeded = "succeeded" // an attempt got a 2xx
	StatusDead      = "dead"      // no attempt is left, or the endpoint was disabled
)

// Delivery is one event for one endpoint, with the log of its attempts (oldest first).
type Delivery struct {
	ID            string          `json:"id"`
	EndpointID    string          `json:"endpoint_id"`
	EventID       string          `json:"event_id"`
	EventType     string          `json:"event_type"`
	Payload       json.RawMessage `json:"payload"`
	Attempt       int             `json:"attempt"`
	Status        string          `json:"status"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	LastStatus    *int            `json:"last_status"`
	LastError     *string         `json:"last_error"`
	CreatedAt     time.Time       `json:"created_at"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
	Attempts      []Attempt       `json:"attempts"`
}

// Attempt is one HTTP attempt of a delivery. StatusCode is null when no response came (a refused address,
// a network error, a timeout), in which case Error says why.
type Attempt struct {
	Attempt     int       `json:"attempt"`
	StatusCode  *int      `json:"status_code"`
	Error       *string   `json:"error"`
	DurationMS  int       `json:"duration_ms"`
	AttemptedAt time.Time `json:"attempted_at"`
}

// Event is something that happened in a tenant, to be announced to the endpoints subscribed to its type.
// ID is a UUID that identifies the event: fanning the same event out twice creates no second delivery.
// Payload is the JSON sent as the body's "data".
type Event struct {
	ID       string          `json:"id"`
	TenantID string          `json:"tenant_id"`
	Type     string          `json:"type"`
	Payload  json.RawMessage `json:"payload"`
}

// Validate reports what makes e unusable: ids that are not UUIDs, a bad type, a payload that is not JSON.
func (e Event) Validate() error {
	var errs []error
	if _, err := uuid.Parse(e.ID); err != nil {
		errs = append(errs, errors.New("event id is not a UUID"))
	}
	if _, err := uuid.Parse(e.TenantID); err != nil {
		errs = append(errs, errors.New("event tenant_id is not a UUID"))
	}
	if !ValidEventType(e.Type) || e.Type == AllEvents {
		errs = append(errs, fmt.Errorf("event type %q is not a dotted lower-case name", e.Type))
	}
	if !json.Valid(e.Payload) {
		errs = append(errs, errors.New("event payload is not JSON"))
	}
	return errors.Join(errs...)
}

// Job is one queued attempt: make attempt number Attempt (1-based) of delivery DeliveryID. Delay is how
// long the queue holds the message first; it is not part of the message body.
type Job struct {
	DeliveryID string        `json:"delivery_id"`
	TenantID   string        `json:"tenant_id"`
	Attempt    int           `json:"attempt"`
	Delay      time.Duration `json:"-"`
}

// MessageID is a stable id of the job (a UUID derived from the delivery and the attempt number): the same
// attempt queued twice, by the dispatcher and by the sweep, has one id.
func (j Job) MessageID() string {
	ns, err := uuid.Parse(j.DeliveryID)
	if err != nil {
		ns = uuid.Nil
	}
	return uuid.NewSHA1(ns, []byte("attempt:"+strconv.Itoa(j.Attempt))).String()
}

// Body is the job's message body, JSON.
func (j Job) Body() []byte {
	b, _ := json.Marshal(j) // three plain fields: cannot fail
	return b
}

// ErrMalformed is returned (wrapped) for a message that can never be handled: retrying it is pointless.
var ErrMalformed = errors.New("webhook: malformed message")

// DecodeJob reads a message body made by Job.Body. A body that is not such a job is ErrMalformed.
func DecodeJob(body []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(body, &j); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := uuid.Parse(j.DeliveryID); err != nil {
		return Job{}, fmt.Errorf("%w: delivery_id %q", ErrMalformed, j.DeliveryID)
	}
	if _, err := uuid.Parse(j.TenantID); err != nil {
		return Job{}, fmt.Errorf("%w: tenant_id %q", ErrMalformed, j.TenantID)
	}
	if j.Attempt < 1 {
		return Job{}, fmt.Errorf("%w: attempt %d", ErrMalformed, j.Attempt)
	}
	return j, nil
}

// FanOutKind is the job kind (shared/jobs) whose payload, a FanOutJob, is fanned out in the job's tenant.
const FanOutKind = "webhook.fanout"

// FanOutJob is the payload of a FanOutKind job: an event of the job's tenant. EventID may be empty, in
// which case the job's own id identifies the event (so a redelivered job fans out once).
type FanOutJob struct {
	EventID string          `json:"event_id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// Validate checks the shape: an optional UUID event id, a dotted lower-case type, a JSON payload.
func (f FanOutJob) Validate() error {
	var errs []error
	if f.EventID != "" {
		if _, err := uuid.Parse(f.EventID); err != nil {
			errs = append(errs, errors.New("event_id is not a UUID"))
		}
	}
	if !ValidEventType(f.Type) || f.Type == AllEvents {
		errs = append(errs, fmt.Errorf("type %q is not a dotted lower-case name", f.Type))
	}
	if !json.Valid(f.Payload) {
		errs = append(errs, errors.New("payload is not JSON"))
	}
	return errors.Join(errs...)
}

// Enqueuer queues jobs for the dispatcher (the "webhooks" queue). Enqueue returns an error when any job
// could not be queued; jobs it could not queue are found again by SweepDue, so a failure delays a
// delivery but does not lose it.
type Enqueuer interface {
	Enqueue(ctx context.Context, jobs ...Job) error
}

// Position is a place in a listing ordered by (created_at DESC, id DESC): the last row served.
type Position struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

func (p Position) valid() bool {
	_, err := uuid.Parse(p.ID)
	return err == nil && len(p.ID) == 36
}

// Query selects a keyset page.
type Query struct {
	Limit int
	After *Position
}

// EndpointPage is a page of endpoints, newest first. Next is nil on the last page.
type EndpointPage struct {
	Endpoints []Endpoint
	Next      *Position
}

// DeliveryPage is a page of an endpoint's deliveries, newest first. Next is nil on the last page.
type DeliveryPage struct {
	Deliveries []Delivery
	Next       *Position
}

// NewEndpoint is a validated registration, with its secret already made.
type NewEndpoint struct {
	URL         string
	Description string
	EventTypes  []string
	Secret      string
}

// Errors the stores return.
var (
	// ErrNotFound: no such endpoint or delivery is visible to the caller (it may be another tenant's).
	ErrNotFound = errors.New("webhook: not found")
	// ErrRetryConflict: the delivery is already waiting for an attempt, or its endpoint is disabled.
	ErrRetryConflict = errors.New("webhook: delivery cannot be retried now")
	// ErrStale: the job is not the delivery's next attempt (a duplicate message, an attempt already made,
	// or a finished delivery). The message is dropped.
	ErrStale = errors.New("webhook: stale job")
	// ErrEndpointDisabled: the delivery's endpoint is disabled; the store has marked the delivery dead.
	ErrEndpointDisabled = errors.New("webhook: endpoint disabled")
)

// EndpointStore keeps endpoints for the HTTP API. Every method runs as principal p under the tenant's
// row-level security; the handlers check that p may manage the tenant before calling. Methods taking an id
// return ErrNotFound when nothing with that id is visible; RetryDelivery returns ErrRetryConflict when the
// delivery is pending or its endpoint disabled. Other errors are unexpected failures.
type EndpointStore interface {
	CreateEndpoint(ctx context.Context, p auth.Principal, in NewEndpoint) (Endpoint, error)
	ListEndpoints(ctx context.Context, p auth.Principal, q Query) (EndpointPage, error)
	DeleteEndpoint(ctx context.Context, p auth.Principal, id string) error
	// RotateSecret makes secret the endpoint's signing secret; the one it replaces keeps signing for overlap.
	RotateSecret(ctx context.Context, p auth.Principal, id, secret string, overlap time.Duration) (Endpoint, error)
	ListDeliveries(ctx context.Context, p auth.Principal, endpointID string, q Query) (DeliveryPage, error)
	// RetryDelivery makes a delivery pending again, its next_attempt_at safetyNet from now (when the sweep
	// queues it if the caller's own enqueue is lost), and returns it.
	RetryDelivery(ctx context.Context, p auth.Principal, id string, safetyNet time.Duration) (Delivery, error)
}

// Target is what an attempt needs: the delivery and where and how to send it. Secrets holds every secret
// that signs now, the current one first.
type Target struct {
	Delivery Delivery
	URL      string
	Secrets  []string
}

// Result is the outcome of one attempt, for DeliveryStore.Record.
type Result struct {
	Job        Job
	EndpointID string
	StatusCode int    // 0 when no response came
	Error      string // "" on success
	Duration   time.Duration
	Succeeded  bool
	// Gone disables the endpoint at once (the receiver answered 410 Gone).
	Gone bool
	// Retry is the wait before the next attempt; nil when no attempt is left (the delivery is dead).
	Retry *time.Duration
	// Queued says the next attempt goes through the queue's delay; next_attempt_at is then set SafetyNet
	// after it is due, as a safety net only.
	Queued    bool
	SafetyNet time.Duration
	// FailureWindow: an endpoint whose failures have lasted this long is disabled.
	FailureWindow time.Duration
}

// Recorded says what Record changed beyond the delivery.
type Recorded struct {
	// Disabled is set when this result disabled the endpoint (410, or failing for FailureWindow); the
	// endpoint's other unfinished deliveries are then dead too, and the tenant has been notified.
	Disabled bool
	// Reason is why it was disabled.
	Reason string
}

// DeliveryStore keeps deliveries for the dispatcher. CreateDeliveries and Claim and Record run as the
// event's or job's tenant; SweepDue works across tenants (the maintenance role). Claim returns ErrStale or
// ErrEndpointDisabled as documented there. Other errors are unexpected failures, after which the message is
// retried.
type DeliveryStore interface {
	// CreateDeliveries adds one pending delivery per enabled endpoint of ev's tenant subscribed to ev.Type
	// (or to AllEvents), skipping endpoints that already have this event, and returns the first-attempt
	// jobs of those it added. Each has next_attempt_at safetyNet from now.
	CreateDeliveries(ctx context.Context, ev Event, safetyNet time.Duration) ([]Job, error)
	// Claim starts attempt j.Attempt: it counts the attempt and sets next_attempt_at lease from now, so
	// an attempt that never reports back is retried by the sweep. ErrStale when j is not the delivery's
	// next attempt or the delivery is finished; ErrEndpointDisabled (the delivery is then dead) when the
	// endpoint is disabled.
	Claim(ctx context.Context, j Job, lease time.Duration) (Target, error)
	// Record logs the attempt and applies r to the delivery and its endpoint, in one transaction.
	Record(ctx context.Context, r Result) (Recorded, error)
	// SweepDue finds at most limit unfinished deliveries, of any tenant, whose next_attempt_at has passed,
	// moves their next_attempt_at safetyNet on, and returns the jobs of their next attempts.
	SweepDue(ctx context.Context, limit int, safetyNet time.Duration) ([]Job, error)
}
