// Package notification holds a member's in-app notifications and the "notification.create" job that
// writes them. Notifications are created only by that job (enqueued in the transaction of the change
// they tell about), so a change and its notice commit together and a redelivered job writes one row.
package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/jobs"
)

// JobKind is the kind of the job that creates a notification; its payload is a Create.
const JobKind = "notification.create"

// Limits of a notification's fields (the table's checks).
const (
	maxKind  = 100
	maxTitle = 200
	maxBody  = 5000
	maxData  = 16 << 10
)

// Notification is one notice to one member of a tenant.
type Notification struct {
	ID        string
	TenantID  string
	UserID    string
	Kind      string // what it is about, e.g. "horse.transferred"
	Title     string
	Body      string
	Data      json.RawMessage // what a client needs to link to the subject; may be nil
	ReadAt    *time.Time
	CreatedAt time.Time
}

// Create is the payload of a notification.create job.
type Create struct {
	UserID string          `json:"user_id"`
	Kind   string          `json:"kind"`
	Title  string          `json:"title"`
	Body   string          `json:"body,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// ErrInvalid is wrapped by Validate's error.
var ErrInvalid = errors.New("notification: invalid")

// Validate checks the payload's shape: a UUID user, a kind and a title within their limits, a body
// within its limit, data (when present) a JSON object of at most 16 KiB. Its error wraps ErrInvalid and
// names every field at fault.
func (c Create) Validate() error {
	var bad []string
	if _, err := uuid.Parse(c.UserID); err != nil {
		bad = append(bad, "user_id is not a UUID")
	}
	if k := strings.TrimSpace(c.Kind); k == "" || utf8.RuneCountInString(c.Kind) > maxKind {
		bad = append(bad, fmt.Sprintf("kind must have 1 to %d characters", maxKind))
	}
	if t := strings.TrimSpace(c.Title); t == "" || utf8.RuneCountInString(c.Title) > maxTitle {
		bad = append(bad, fmt.Sprintf("title must have 1 to %d characters", maxTitle))
	}
	if utf8.RuneCountInString(c.Body) > maxBody {
		bad = append(bad, fmt.Sprintf("body must have at most %d characters", maxBody))
	}
	if len(c.Data) > 0 {
		var obj map[string]json.RawMessage
		if len(c.Data) > maxData || json.Unmarshal(c.Data, &obj) != nil || obj == nil {
			bad = append(bad, fmt.Sprintf("data must be a JSON object of at most %d bytes", maxData))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// Store writes notifications inside a transaction the caller owns.
type Store interface {
	// Insert writes n in tx unless a notification with n.ID exists. It returns an error wrapping
	// ErrNoSuchUser when n.UserID names no user, and the database error otherwise.
	Insert(ctx context.Context, tx pgx.Tx, n Notification) error
}

// ErrNoSuchUser is wrapped by Store.Insert's error when the recipient does not exist.
var ErrNoSuchUser = errors.New("notification: no such user")

// idSpace derives a notification's id from its job's id, so the same job can only ever write the same
// row (a second line of defence behind the worker's dedupe).
var idSpace = uuid.MustParse("5d0c1f6e-8f0a-4d8c-9a64-0c1b7f1e6a21")

// CreateJob is the handler of JobKind: it writes the notification of c (already validated by the worker)
// in the job's tenant, with an id derived from the job's id. A recipient that does not exist fails the
// job permanently; other errors are the store's, and retried.
func CreateJob(s Store) jobs.Handler[Create] {
	return func(ctx context.Context, jc jobs.JobContext, c Create) error {
		if jc.TenantID == "" {
			return jobs.Permanent(fmt.Errorf("%w: a notification needs a tenant", ErrInvalid))
		}
		n := Notification{
			ID: uuid.NewSHA1(idSpace, []byte(jc.ID)).String(), TenantID: jc.TenantID, UserID: c.UserID,
			Kind: c.Kind, Title: c.Title, Body: c.Body, Data: c.Data,
		}
		if err := s.Insert(ctx, jc.Tx, n); err != nil {
			if errors.Is(err, ErrNoSuchUser) {
				return jobs.Permanent(err)
			}
			return err
		}
		return nil
	}
}
