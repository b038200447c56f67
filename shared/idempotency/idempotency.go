// Package idempotency defines how a repeated request with the same Idempotency-Key is recognised and
// answered: the Store contract that Postgres (and later DynamoDB) implement, and the key and record types.
// The HTTP side lives in middleware.Idempotency.
//
// The protocol: the first request takes a lease with one conditional write. While the lease holds, a
// duplicate is told the first is still in flight (409). When the first finishes with a status below 500
// its response is stored and every duplicate replays it. A 5xx releases the lease so the client may retry.
// Only the lease owner can complete: a slow first attempt whose lease expired and was taken over cannot
// overwrite the newer attempt's result.
package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Key scopes an idempotency key: the same client key on another route, or from another user or tenant, is
// another key. TenantID and UserID are "" for anonymous routes.
type Key struct {
	TenantID string
	UserID   string
	Route    string // the route pattern, e.g. "POST /horses"
	Key      string // the client's Idempotency-Key
}

// Record is a stored response.
type Record struct {
	Status int
	Header http.Header
	Body   []byte
}

// Outcome is the answer to Begin.
type Outcome struct {
	// Lease is the token of the lease this caller now holds; "" when it did not get one.
	Lease string
	// Completed is the stored response of an earlier identical request.
	Completed *Record
	// Mismatch is true when the key was first used with a different request.
	Mismatch bool
	// InFlight is true when an identical request holds a live lease.
	InFlight bool
}

// ErrLeaseLost is returned by Complete when the caller no longer holds the lease (it expired and another
// attempt took over, or the record was released).
var ErrLeaseLost = errors.New("idempotency: lease lost")

// Store persists idempotency records. Implementations must make Begin atomic: of any number of concurrent
// Begin calls for one Key, at most one gets a lease while it is live.
type Store interface {
	// Begin takes the lease for k, or reports the existing record. A record past its expiry, and a lease past
	// its end whose request matches, are taken over. requestHash fingerprints the request; lease is how long the
	// first attempt may take; ttl is how long the record is kept.
	Begin(ctx context.Context, k Key, requestHash []byte, lease, ttl time.Duration) (Outcome, error)
	// Complete stores the response if leaseToken still holds the lease, else returns ErrLeaseLost.
	Complete(ctx context.Context, k Key, leaseToken string, rec Record) error
	// Release gives the lease up (the request failed with a 5xx), so a retry starts afresh. Releasing a lease
	// already lost is not an error.
	Release(ctx context.Context, k Key, leaseToken string) error
}
