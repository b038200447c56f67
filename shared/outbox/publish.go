package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Retry settings of a failed send (each knob with its default; Options overrides them).
const (
	// DefaultRetryBase is the wait after a row's first failed send; it doubles with each further failure.
	DefaultRetryBase = 30 * time.Second
	// DefaultRetryMax caps that wait, so a row goes out at most this long after the queue is back.
	DefaultRetryMax = 5 * time.Minute
	// maxErrorLen bounds last_error (the column allows 2000 characters).
	maxErrorLen = 1000
)

// Options tune publishing; the zero value means every default.
type Options struct {
	// RetryBase is the wait before a row whose send failed is tried again (default DefaultRetryBase),
	// doubled for each earlier failure of that row.
	RetryBase time.Duration
	// RetryMax caps the wait (default DefaultRetryMax).
	RetryMax time.Duration
}

func (o Options) withDefaults() Options {
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	return o
}

// backoff is the wait before the next try of a row that has now failed attempts times (attempts >= 1).
func (o Options) backoff(attempts int) time.Duration {
	d := float64(o.RetryBase) * math.Pow(2, float64(attempts-1))
	if d >= float64(o.RetryMax) {
		return o.RetryMax
	}
	return time.Duration(d)
}

// TxRunner runs fn in a transaction for principal p, committing when fn returns nil (*postgres.DB).
type TxRunner interface {
	InTx(ctx context.Context, p auth.Principal, fn func(tx pgx.Tx) error) error
}

// Outbox publishes entries right after the transaction that added them committed. It is safe for
// concurrent use.
type Outbox struct {
	db    TxRunner
	pub   Publisher
	sends *sendCombiner // Publish's sends, combined across concurrent callers
	log   *slog.Logger
	opts  Options
}

// New returns an Outbox that reads and marks entries through db (as the application role, in the
// entries' tenant) and sends them with pub.
func New(db TxRunner, pub Publisher, log *slog.Logger, opts Options) *Outbox {
	return &Outbox{db: db, pub: pub, sends: newSendCombiner(pub), log: log, opts: opts.withDefaults()}
}

// PublishNow publishes the entries ids of tenant tenantID ("" for entries of no tenant) that are still
// pending, in the order they were added, and marks them published. Call it after the transaction that
// added them committed; it is best effort: an entry it cannot send (or that another publisher holds, or
// whose delay exceeds sqsx.MaxDelay) stays pending for the relay. An entry delayed by at most
// sqsx.MaxDelay is sent now with the remaining delay as its SQS delay. It returns how many entries it
// published, and an error, which the caller may log and otherwise ignore, when reading, sending or marking
// failed; entries it reports as published were accepted by the queue.
func (o *Outbox) PublishNow(ctx context.Context, tenantID string, ids ...string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	const q = `
SELECT id, seq, coalesce(tenant_id::text, ''), queue, kind, payload, created_at, attempts,
       extract(epoch FROM greatest(deliver_after - now(), interval '0'))::float8
FROM outbox
WHERE id = ANY($1::uuid[]) AND published_at IS NULL AND deliver_after <= now() + $2 * interval '1 microsecond'
ORDER BY seq
FOR UPDATE SKIP LOCKED`
	var n int
	var sendErr error
	dbCtx, cancel := bookkeeping(ctx)
	defer cancel()
	err := o.db.InTx(dbCtx, auth.Principal{TenantID: tenantID}, func(tx pgx.Tx) error {
		rows, err := claim(dbCtx, tx, q, ids, sqsx.MaxDelay.Microseconds())
		if err != nil {
			return err
		}
		// A failed send is recorded and committed with whatever was sent before it.
		n, sendErr, err = publish(ctx, dbCtx, tx, o.pub, o.opts, rows)
		return err
	})
	if err == nil {
		err = sendErr
	} else {
		n = 0
	}
	if err != nil {
		o.log.LogAttrs(ctx, slog.LevelWarn, "outbox: publish now failed; the relay will publish",
			slog.Int("published", n), slog.Any("error", err))
		return n, err
	}
	return n, nil
}

// bookkeepingTimeout bounds the transaction that claims rows and records what became of their sends.
const bookkeepingTimeout = 5 * time.Second

// bookkeeping returns the context of that transaction: ctx's values, without its cancellation or deadline,
// for at most bookkeepingTimeout. Once a message has been sent, recording it must not be cut short by the
// caller going away (a client disconnecting, a poll being stopped): the row would stay pending and be sent
// again, and a commit that went through would be reported as failed.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
}

// row is a claimed pending entry.
type row struct {
	id, tenantID, queue, kind string
	seq                       int64
	payload                   []byte
	createdAt                 time.Time
	attempts                  int
	delay                     time.Duration
}

func claim(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]row, error) {
	rs, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	out, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
		var x row
		var delaySeconds float64
		err := r.Scan(&x.id, &x.seq, &x.tenantID, &x.queue, &x.kind, &x.payload, &x.createdAt, &x.attempts, &delaySeconds)
		x.delay = time.Duration(delaySeconds * float64(time.Second))
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return out, nil
}

// publish sends rows (claimed in seq order) in runs of consecutive rows for the same queue, so the queue
// receives them in order, and records the outcome in tx: sent rows are marked published; on the first
// failed send the rows of that run that were not sent (all of them, unless the error is a
// *sqsx.SendError naming them) get attempts+1, last_error and a deliver_after pushed back by the
// backoff, the rows after it are left as they were, and publish stops (the queue is most likely
// unreachable, and the order is kept). It returns how many rows were published and the send error, which
// the caller commits with; err is an error of its own bookkeeping, on which the caller rolls back (the
// rows stay pending and are sent again).
//
// The sends use ctx; the bookkeeping in tx uses dbCtx, the context tx was begun with (see bookkeeping).
func publish(ctx, dbCtx context.Context, tx pgx.Tx, pub Publisher, opts Options, rows []row) (n int, sendErr, err error) {
	var sent []string
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].queue == rows[start].queue {
			end++
		}
		run := rows[start:end]
		msgs := make([]sqsx.Message, len(run))
		for i, r := range run {
			body, err := envelope(r)
			if err != nil {
				return 0, nil, err
			}
			msgs[i] = sqsx.Message{ID: r.id, Body: body, Delay: r.delay, Attributes: map[string]string{"corral-kind": r.kind}}
		}
		if err := pub.Send(ctx, run[0].queue, msgs...); err != nil {
			sendErr = fmt.Errorf("outbox: send %d to %s: %w", len(run), run[0].queue, err)
			// A *sqsx.SendError names the messages that were not sent; the others were.
			failed := run
			var se *sqsx.SendError
			if errors.As(err, &se) {
				failed, sent = split(run, se.FailedIDs(), sent)
			}
			if len(failed) > 0 {
				if err := markFailed(dbCtx, tx, opts, failed, err); err != nil {
					return 0, nil, err
				}
			}
			break
		}
		for _, r := range run {
			sent = append(sent, r.id)
		}
		start = end
	}
	if len(sent) > 0 {
		const q = `UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])`
		if _, err := tx.Exec(dbCtx, q, sent); err != nil {
			return 0, nil, fmt.Errorf("outbox: mark published: %w", err)
		}
	}
	return len(sent), sendErr, nil
}

// split returns the rows of run whose ids are in failedIDs, and sent with the ids of the others appended.
func split(run []row, failedIDs []string, sent []string) (failed []row, _ []string) {
	for _, r := range run {
		if slices.Contains(failedIDs, r.id) {
			failed = append(failed, r)
		} else {
			sent = append(sent, r.id)
		}
	}
	return failed, sent
}

func envelope(r row) ([]byte, error) {
	b, err := json.Marshal(Envelope{ID: r.id, Kind: r.kind, TenantID: r.tenantID, Payload: r.payload, CreatedAt: r.createdAt.UTC()})
	if err != nil {
		return nil, fmt.Errorf("outbox: envelope of %s: %w", r.id, err)
	}
	return b, nil
}

// markFailed records a failed send of run. Every row of a run gets the same wait: the backoff of the row
// that has failed most often.
func markFailed(ctx context.Context, tx pgx.Tx, opts Options, run []row, cause error) error {
	ids := make([]string, len(run))
	attempts := 0
	for i, r := range run {
		ids[i] = r.id
		attempts = max(attempts, r.attempts+1)
	}
	msg := cause.Error()
	if len(msg) > maxErrorLen {
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "")
	}
	const q = `
UPDATE outbox SET attempts = attempts + 1, last_error = $2, deliver_after = now() + $3 * interval '1 microsecond'
WHERE id = ANY($1::uuid[])`
	if _, err := tx.Exec(ctx, q, ids, msg, opts.backoff(attempts).Microseconds()); err != nil {
		return fmt.Errorf("outbox: mark failed: %w", err)
	}
	return nil
}

// Committed is an entry whose transaction has committed, as its writer holds it: enough to send it without
// reading it back. Payload and CreatedAt must be the stored ones (RETURNING payload, created_at), so that
// the message is the one the relay would send.
type Committed struct {
	ID, Queue, Kind, TenantID string
	Payload                   json.RawMessage
	CreatedAt                 time.Time
}

// CombinedExecer runs one short write for a principal in a round trip shared with concurrent callers, and
// returns the rows it affected (*postgres.DB's ExecCombined).
type CombinedExecer interface {
	ExecCombined(ctx context.Context, p auth.Principal, sql string, args ...any) (int64, error)
}

// markPublishedSQL marks entries published, skipping those a relay holds (it marks them itself) and those
// already marked.
const markPublishedSQL = `
UPDATE outbox SET published_at = now()
WHERE id IN (SELECT id FROM outbox WHERE id = ANY($1::uuid[]) AND published_at IS NULL FOR UPDATE SKIP LOCKED)`

// Publish sends entries that their writer has just committed (due now: no delay), from what the writer
// holds in memory, then marks them published. Unlike PublishNow it reads nothing and holds no database
// connection while the queue answers; the mark is one short statement per tenant, sharing its round trip
// with concurrent callers when the database offers ExecCombined (*postgres.DB does).
//
// It is best effort, as PublishNow: an entry it cannot send stays pending and goes out with the relay's
// next run. Since nothing is locked during the send, a relay running at that moment may send an entry too,
// and an entry whose mark fails is sent again by the relay: delivery stays at least once, with the same
// message id, on which consumers dedupe (sqsx.Once). It returns how many entries the queue accepted, and
// an error, which the caller may log and otherwise ignore, when a send or a mark failed.
func (o *Outbox) Publish(ctx context.Context, entries ...Committed) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	rows := make([]row, len(entries))
	for i, e := range entries {
		rows[i] = row{id: e.ID, tenantID: e.TenantID, queue: e.Queue, kind: e.Kind, payload: e.Payload, createdAt: e.CreatedAt}
	}
	sent, sendErr := o.send(ctx, rows)
	var markErr error
	byTenant := map[string][]string{}
	for _, r := range sent {
		byTenant[r.tenantID] = append(byTenant[r.tenantID], r.id)
	}
	for tenant, ids := range byTenant {
		if err := o.markPublished(ctx, tenant, ids); err != nil {
			markErr = err
		}
	}
	err := errors.Join(sendErr, markErr)
	if err != nil {
		o.log.LogAttrs(ctx, slog.LevelWarn, "outbox: publish failed; the relay will publish",
			slog.Int("sent", len(sent)), slog.Any("error", err))
	}
	return len(sent), err
}

// send sends rows in runs of consecutive rows for the same queue and returns those the queue accepted.
func (o *Outbox) send(ctx context.Context, rows []row) (sent []row, err error) {
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].queue == rows[start].queue {
			end++
		}
		run := rows[start:end]
		start = end
		msgs := make([]sqsx.Message, len(run))
		for i, r := range run {
			body, err := envelope(r)
			if err != nil {
				return sent, err
			}
			msgs[i] = sqsx.Message{ID: r.id, Body: body, Attributes: map[string]string{"corral-kind": r.kind}}
		}
		if sendErr := o.sends.Send(ctx, run[0].queue, msgs...); sendErr != nil {
			err = errors.Join(err, fmt.Errorf("outbox: send %d to %s: %w", len(run), run[0].queue, sendErr))
			var se *sqsx.SendError
			if !errors.As(sendErr, &se) {
				continue // none sent, as far as we know
			}
			for _, r := range run {
				if !slices.Contains(se.FailedIDs(), r.id) {
					sent = append(sent, r)
				}
			}
			continue
		}
		sent = append(sent, run...)
	}
	return sent, err
}

// markPublished marks the entries ids of tenant published.
func (o *Outbox) markPublished(ctx context.Context, tenant string, ids []string) error {
	p := auth.Principal{TenantID: tenant}
	if c, ok := o.db.(CombinedExecer); ok {
		if _, err := c.ExecCombined(ctx, p, markPublishedSQL, ids); err != nil {
			return fmt.Errorf("outbox: mark published: %w", err)
		}
		return nil
	}
	err := o.db.InTx(ctx, p, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, markPublishedSQL, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: mark published: %w", err)
	}
	return nil
}
