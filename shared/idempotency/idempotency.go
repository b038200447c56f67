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
	"sync"
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

// ErrKeyRecorded is wrapped by the error of a write whose riding lease (Pending) found the key already
// recorded: the write rolled back and the middleware answers the request from the record instead, so the
// handler's own answer to this error is discarded and not worth an error log (httpapi.WriteError skips it).
var ErrKeyRecorded = errors.New("idempotency: key already recorded")

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

// TxStore is a Store that can take a lease inside the handler's own first write transaction instead of in
// one of its own (the Postgres store: the lease row is inserted as part of the handler's first write to
// the same database). The lease then commits if and only if that write commits, and the separate lease
// transaction disappears from the request's path.
//
// The middleware uses it only for handlers whose every effect is such a write (middleware.EffectsInTx):
// a handler that calls a payment API before writing would run that call unprotected.
type TxStore interface {
	Store
	// Pending returns a lease for k that is not taken yet. Put it in the request's context with
	// WithPending; the store's database takes it in the first write transaction that carries that
	// context. Its fields are as for Begin.
	Pending(k Key, requestHash []byte, lease, ttl time.Duration) *Pending
}

// PendingState is where a pending lease stands.
type PendingState int32

// The states of a Pending lease.
const (
	// PendingIdle: no write transaction holds the lease now, and none committed it.
	PendingIdle PendingState = iota
	// PendingInTx: an open write transaction carries the lease.
	PendingInTx
	// PendingCommitted: the lease committed together with a write of the handler: it is held now, exactly
	// as one taken by Begin.
	PendingCommitted
	// PendingConflict: the key already had a record (a finished or running request, or an expired record):
	// the transaction that tried to take the lease failed and was rolled back.
	PendingConflict
	// PendingRecorded: the handler's write committed the finished record itself, with the response the
	// handler declared (Expect): nothing is left to store (see Pending.TakeRecording).
	PendingRecorded
)

// Expected is the response a handler declares before its write (Expect): its status and the headers a
// replay repeats. The body is the one the recording statement renders (see Pending.TakeRecording).
type Expected struct {
	Status int
	Header http.Header
}

// Pending is a lease to be taken by the handler's first write transaction (see TxStore). It is safe for
// concurrent use; a transaction claims it with Take and reports its outcome with Settle or Conflict.
type Pending struct {
	Key         Key
	RequestHash []byte
	Token       string // the lease token, as Outcome.Lease; a store may set it only when it takes the lease (Take)
	Lease, TTL  time.Duration
	owner       any

	mu        sync.Mutex
	state     PendingState
	expected  *Expected
	recording bool // the transaction holding it writes the finished record (TakeRecording)
}

// NewPending returns an idle pending lease that only the database owner may take (a store passes its own
// database handle, which compares it with itself in Take).
func NewPending(owner any, k Key, requestHash []byte, token string, lease, ttl time.Duration) *Pending {
	return &Pending{Key: k, RequestHash: requestHash, Token: token, Lease: lease, TTL: ttl, owner: owner}
}

// Take claims the lease for a transaction of owner: true when it was idle and belongs to owner (it is then
// in that transaction until Settle or Conflict). A nil Pending is never taken.
func (p *Pending) Take(owner any) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.owner != owner || p.state != PendingIdle {
		return false
	}
	p.state = PendingInTx
	return true
}

// TakeRecording claims the lease, as Take does, for a write that stores the finished record in its own
// statement instead of a lease: the handler declared its response (Expect), and the statement renders the
// body the handler will send from the rows it writes. It returns the declared response, or nil (and takes
// nothing) when there is none or Take would refuse. Settle(true) then means the record committed with
// the write (PendingRecorded); a statement that wrote no row has written no record either: Settle(false).
func (p *Pending) TakeRecording(owner any) *Expected {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.owner != owner || p.state != PendingIdle || p.expected == nil {
		return nil
	}
	p.state, p.recording = PendingInTx, true
	return p.expected
}

// Settle ends the transaction that took the lease: committed or rolled back (idle again, so that a later
// write transaction of the same request may take it). It does nothing on a nil Pending, or one that no
// transaction holds.
func (p *Pending) Settle(committed bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != PendingInTx {
		return
	}
	switch {
	case committed && p.recording:
		p.state = PendingRecorded
	case committed:
		p.state = PendingCommitted
	default:
		p.state = PendingIdle
	}
	p.recording = false
}

// Conflict records that the transaction that took the lease found the key already recorded and failed.
func (p *Pending) Conflict() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == PendingInTx {
		p.state, p.recording = PendingConflict, false
	}
}

// Expected returns the response the handler declared (Expect), or nil.
func (p *Pending) Expected() *Expected {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expected
}

// State reports where the lease stands (PendingIdle for nil).
func (p *Pending) State() PendingState {
	if p == nil {
		return PendingIdle
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

type pendingKey struct{}

// WithPending returns ctx carrying p.
func WithPending(ctx context.Context, p *Pending) context.Context {
	return context.WithValue(ctx, pendingKey{}, p)
}

// Expect declares, for the pending lease of ctx (if any), the response the handler will send when its
// write succeeds: status and the headers to replay. A write that can render the body (TakeRecording) then
// stores the finished record in its own statement, and the record is written once, with the effect,
// instead of a lease first and the response after it. Call it before the write; the handler must then
// answer a successful write with exactly that status and headers, and the body the store renders (the
// store documents which). Without a pending lease (no Idempotency-Key, another store) it does nothing.
func Expect(ctx context.Context, status int, header http.Header) {
	p := PendingFrom(ctx)
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expected = &Expected{Status: status, Header: header}
}

// PendingFrom returns the pending lease of ctx, or nil.
func PendingFrom(ctx context.Context) *Pending {
	p, _ := ctx.Value(pendingKey{}).(*Pending)
	return p
}
