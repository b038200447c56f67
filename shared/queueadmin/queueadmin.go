// Package queueadmin is the platform operators' view of the job and webhook queues: how deep each queue
// and its dead-letter queue are, and a redrive that moves dead-lettered messages back. The queues are the
// platform's, shared by every tenant, so only a platform administrator may see or touch them: a caller
// whose token holds the role RolePlatformAdmin. Tenant owners and admins get 403.
//
// No token carries that role yet: the identity issue is to issue "platform_admin" to operators (in the
// token's role or roles claim, which auth maps into Principal.Roles). The rule needs no configuration.
package queueadmin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

// RolePlatformAdmin is the role a token must hold to use these routes.
const RolePlatformAdmin = "platform_admin"

// Redrive limits: how many messages one request moves by default and at most (a request must finish within
// the function's timeout; call again to move more).
const (
	DefaultRedriveLimit = 500
	MaxRedriveLimit     = 1000
)

// Audit event kinds recorded by this package.
const (
	KindRedrive   = "queues.redrive"
	KindForbidden = "queues.forbidden"
)

// Depth is one queue's approximate counts, as the API shows them.
type Depth struct {
	Queue    string `json:"queue"`
	Visible  int64  `json:"visible"`
	InFlight int64  `json:"in_flight"`
	Delayed  int64  `json:"delayed"`
	// MaxReceiveCount is the receives before a message is dead-lettered; 0 without a dead-letter queue.
	MaxReceiveCount int    `json:"max_receive_count,omitempty"`
	DeadLetter      *Depth `json:"dead_letter,omitempty"`
}

// ErrNoDeadLetterQueue is what Queues.Redrive returns (wrapped) for a queue without a dead-letter queue.
var ErrNoDeadLetterQueue = errors.New("queueadmin: the queue has no dead-letter queue")

// Queues is what the handlers need from the queue service.
type Queues interface {
	// Depths returns the depth of each named queue with its dead-letter queue, in order.
	Depths(ctx context.Context, names []string) ([]Depth, error)
	// Redrive moves up to limit dead-lettered messages of the named queue back to it and returns how many
	// it moved (also alongside an error). A queue without a dead-letter queue is ErrNoDeadLetterQueue.
	Redrive(ctx context.Context, name string, limit int) (moved int, err error)
}

// Recorder records audit events (audit.Writer).
type Recorder interface {
	Record(audit.Event)
}

// platformAdmin returns the caller when it is a platform administrator. Anyone else is refused with a
// CodeForbidden *Error (recorded in the audit log); an anonymous request with CodeUnauthorized.
func platformAdmin(r *http.Request, rec Recorder) (auth.Principal, error) {
	p, err := httpapi.Caller(r)
	if err != nil {
		return p, err
	}
	if !p.HasRole(RolePlatformAdmin) {
		record(rec, r, p, KindForbidden, nil)
		return p, httpapi.Errorf(httpapi.CodeForbidden, "only platform administrators may see the platform's queues")
	}
	return p, nil
}

func record(rec Recorder, r *http.Request, p auth.Principal, kind string, detail map[string]any) {
	if rec == nil {
		return
	}
	rec.Record(audit.Event{TenantID: p.TenantID, UserID: p.UserID, Kind: kind, Route: r.Pattern,
		RequestID: httpapi.RequestID(r.Context()), Detail: detail})
}

// unavailable hides a queue service failure behind a 503.
func unavailable(err error) error {
	return &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "the queue service is unavailable; try again", Err: err}
}

// List serves GET /admin/queues: the depth of every queue in names and of its dead-letter queue,
// {"items": [...]}. Platform administrators only.
func List(q Queues, names []string, rec Recorder) http.Handler {
	names = slices.Clone(names)
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := platformAdmin(r, rec); err != nil {
			return err
		}
		ds, err := q.Depths(r.Context(), names)
		if err != nil {
			return unavailable(err)
		}
		if ds == nil {
			ds = []Depth{}
		}
		httpapi.WriteJSON(w, r, http.StatusOK, httpapi.ListResponse[Depth]{Items: ds})
		return nil
	})
}

// RedriveResult is the answer of a redrive.
type RedriveResult struct {
	Queue string `json:"queue"`
	Moved int    `json:"moved"`
}

// Redrive serves POST /admin/queues/{name}/redrive?limit=n: it moves up to n (default
// DefaultRedriveLimit, at most MaxRedriveLimit) messages from the queue's dead-letter queue back to the
// queue and answers {"queue": name, "moved": k}. Fewer than n moved means the dead-letter queue ran dry or
// time ran short; call again to continue. A name not in names is 404, a queue without a dead-letter queue
// 409, a failure of the queue service 503 (messages moved before it stay moved). Platform administrators
// only; every redrive is recorded in the audit log.
func Redrive(q Queues, names []string, rec Recorder) http.Handler {
	names = slices.Clone(names)
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := platformAdmin(r, rec)
		if err != nil {
			return err
		}
		name := r.PathValue("name")
		if !slices.Contains(names, name) {
			return httpapi.ErrNotFound
		}
		limit := DefaultRedriveLimit
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxRedriveLimit {
				return httpapi.Invalid(httpapi.FieldProblem{Field: "limit", Reason: "must be a whole number from 1 to " + strconv.Itoa(MaxRedriveLimit)})
			}
			limit = n
		}
		moved, err := q.Redrive(r.Context(), name, limit)
		if moved > 0 || err == nil {
			record(rec, r, p, KindRedrive, map[string]any{"queue": name, "moved": moved, "limit": limit})
		}
		switch {
		case errors.Is(err, ErrNoDeadLetterQueue):
			return httpapi.Errorf(httpapi.CodeConflict, "queue %s has no dead-letter queue", name)
		case err != nil:
			return unavailable(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, RedriveResult{Queue: name, Moved: moved})
		return nil
	})
}
