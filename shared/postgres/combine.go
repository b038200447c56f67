package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
)

// Combined statements (DB.ExecCombined): the short bookkeeping writes that follow a request's effect
// (storing its idempotent response, marking its outbox entries published) would cost a round trip and a
// commit each, about as much as the effect itself when one small pool serves many concurrent requests
// (measured on the local runner's 2-connection pool: a second round trip per request halved the write
// throughput). So they ride along: a bookkeeping statement waits in a queue, and whoever gets a connection
// of the write pool first takes every statement queued at that moment with it, in the same pipelined
// batch, implicit transaction and commit:
//
//   - a single-statement write (QueryRow, Query in ReadWrite mode) sends the queued statements ahead of its
//     own: under load the bookkeeping costs no round trip and no commit of its own;
//   - a caller of ExecCombined that gets a connection before any write does sends the queue itself (group
//     commit), so a lone request, as in a Lambda environment, sends its own statement at once and nothing is
//     left queued or running in the background after it returns.
//
// Each statement runs after its own principal's settings, so row-level security confines it as if it ran
// alone. When a batch fails, or the write that carried the statements fails (everything in its implicit
// transaction rolled back with it), the statements are sent again, each alone, so that one failing
// statement fails only its own caller.
const (
	// maxCombined bounds the statements one batch takes from the queue.
	maxCombined = 64
	// combinedTimeout bounds one batch of queued statements sent by an ExecCombined caller; it runs detached
	// from that caller's cancellation, since it carries the statements of others too.
	combinedTimeout = 5 * time.Second
	// rideWait is how long a queued statement waits for a write to carry it, while every connection is
	// busy, before it looks again.
	rideWait = time.Millisecond
)

// combined is one queued statement.
type combined struct {
	tenant, user string
	sql          string
	args         []any

	// taken is closed when a batch took the statement out of the queue: its caller stops competing for a
	// connection and waits for done.
	taken      chan struct{}
	acquireCtx context.Context    // the caller's wait for a connection
	cancel     context.CancelFunc // ends that wait once taken
	done       chan struct{}      // closed once the outcome is recorded
	rows       int64              // rows affected, once done
	err        error
}

// combiner is the queue of statements waiting to ride a batch.
type combiner struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	queue []*combined
}

func newCombiner(pool *pgxpool.Pool) *combiner { return &combiner{pool: pool} }

// take removes up to maxCombined statements from the head of the queue and marks them taken.
func (c *combiner) take() []*combined {
	c.mu.Lock()
	n := min(len(c.queue), maxCombined)
	if n == 0 {
		c.mu.Unlock()
		return nil
	}
	batch := make([]*combined, n)
	copy(batch, c.queue)
	clear(c.queue[:n])
	c.queue = c.queue[n:]
	c.mu.Unlock()
	for _, it := range batch {
		close(it.taken)
		it.cancel()
	}
	return batch
}

// withdraw removes it from the queue and reports whether it was still there (no batch took it).
func (c *combiner) withdraw(it *combined) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.queue {
		if q == it {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return true
		}
	}
	return false
}

// ExecCombined runs one single-statement write for principal p, riding the next batch sent on the write
// pool (see the comment on maxCombined), and returns the rows it affected. Statements of other callers
// in the same batch are not visible to the caller. It is meant for short bookkeeping writes whose caller
// can wait a round trip: its errors are wrapped with %w. The write is committed when ExecCombined returns
// nil. If ctx ends before a batch took the statement, it is not run and ctx's error is returned; once
// taken, the statement's batch is awaited (it is bounded by combinedTimeout).
func (db *DB) ExecCombined(ctx context.Context, p auth.Principal, sql string, args ...any) (int64, error) {
	it, cancel := db.combine.enqueue(ctx, p, sql, args)
	defer cancel()
	return db.combine.await(ctx, it)
}

// enqueue queues a statement. The returned context is the caller's wait for a connection, which the batch
// that takes the statement cancels; call cancel when done.
func (c *combiner) enqueue(ctx context.Context, p auth.Principal, sql string, args []any) (*combined, context.CancelFunc) {
	acquireCtx, cancel := context.WithCancel(ctx)
	it := &combined{tenant: p.TenantID, user: p.UserID, sql: sql, args: args, acquireCtx: acquireCtx,
		taken: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, it)
	c.mu.Unlock()
	return it, cancel
}

// await competes for a connection until a batch, the caller's own or a write's, takes it, and returns its
// outcome.
func (c *combiner) await(ctx context.Context, it *combined) (int64, error) {
	for {
		// While every connection is busy, a write is about to take a connection and the statement with it:
		// wait for that instead of adding a round trip of its own, for a moment at a time.
		if st := c.pool.Stat(); st.IdleConns() == 0 && st.TotalConns() >= st.MaxConns() {
			t := time.NewTimer(rideWait)
			select {
			case <-it.taken:
				t.Stop()
				<-it.done
				return it.rows, it.err
			case <-t.C:
				continue
			case <-it.acquireCtx.Done():
				t.Stop()
			}
		}
		conn, err := c.pool.Acquire(it.acquireCtx)
		if err != nil {
			select {
			case <-it.taken: // a batch took it while this caller waited
				<-it.done
				return it.rows, it.err
			default:
			}
			if c.withdraw(it) {
				return 0, fmt.Errorf("postgres: combined statement: %w", err)
			}
			<-it.done // taken just now
			return it.rows, it.err
		}
		if batch := c.take(); len(batch) > 0 {
			bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), combinedTimeout)
			runCombined(bctx, conn, batch)
			bcancel()
		}
		conn.Release()
		select {
		case <-it.taken:
			<-it.done
			return it.rows, it.err
		default: // more than maxCombined were queued ahead of it: go again
		}
	}
}

// runCombined sends batch on conn as one pipelined batch (one implicit transaction) and records each
// statement's outcome; when the batch fails it sends each statement alone.
func runCombined(ctx context.Context, conn *pgxpool.Conn, batch []*combined) {
	if len(batch) > 1 && sendCombined(ctx, conn, batch) == nil {
		finishCombined(batch)
		return
	}
	for _, it := range batch {
		it.err = sendCombined(ctx, conn, []*combined{it})
	}
	finishCombined(batch)
}

// finishCombined wakes the callers of batch.
func finishCombined(batch []*combined) {
	for _, it := range batch {
		close(it.done)
	}
}

// queueCombined appends batch's statements, each after its principal's settings, to b.
func queueCombined(b *pgx.Batch, batch []*combined) {
	for i, it := range batch {
		if newPrincipal(batch, i) {
			b.Queue(setPrincipalSQL, it.tenant, it.user)
		}
		b.Queue(it.sql, it.args...)
	}
}

// readCombined reads batch's results (queued by queueCombined) from br and records each statement's rows.
func readCombined(br pgx.BatchResults, batch []*combined) error {
	for i, it := range batch {
		if newPrincipal(batch, i) {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		it.rows = tag.RowsAffected()
	}
	return nil
}

// sendCombined sends batch on conn and records each statement's rows; on error every statement of batch
// gets it.
func sendCombined(ctx context.Context, conn *pgxpool.Conn, batch []*combined) error {
	b := &pgx.Batch{}
	queueCombined(b, batch)
	br := conn.SendBatch(ctx, b)
	err := readCombined(br, batch)
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		err = fmt.Errorf("postgres: combined statement: %w", err)
		for _, it := range batch {
			it.rows, it.err = 0, err
		}
	}
	return err
}

// newPrincipal reports whether statement i of batch needs its principal set: it is the first, or its
// principal differs from the one before it.
func newPrincipal(batch []*combined, i int) bool {
	return i == 0 || batch[i].tenant != batch[i-1].tenant || batch[i].user != batch[i-1].user
}

// riding is the results of a write's batch that carries queued statements ahead of the write's own (see
// DB.send). Close finishes the write's results, settles the carried statements (recorded when the batch
// committed, else sent again each alone on the same connection) and releases the connection.
type riding struct {
	pgx.BatchResults
	conn    *pgxpool.Conn
	pool    *pgxpool.Pool
	ctx     context.Context
	cancel  context.CancelFunc // ends the batch's context (see carrierContext)
	carried []*combined
	failed  bool // the carried statements themselves failed (already recorded): send each alone
	closed  bool
}

// carrierContext is the context of a batch that carries other callers' statements: ctx without its
// cancellation, ending at ctx's deadline or combinedTimeout from now, whichever is later.
func carrierContext(ctx context.Context) (context.Context, context.CancelFunc) {
	end := time.Now().Add(combinedTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.After(end) {
		end = dl
	}
	return context.WithDeadline(context.WithoutCancel(ctx), end)
}

// Close implements pgx.BatchResults.
func (r *riding) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.BatchResults.Close()
	r.cancel()
	r.conn.Release()
	if len(r.carried) > 0 {
		if err != nil || r.failed {
			// The implicit transaction rolled back (or may have): nothing of the carried statements is known
			// to be committed. Each is an idempotent bookkeeping write, so sending it again is safe; on a
			// connection of its own, since the failure may have broken this one.
			r.resend()
		}
		finishCombined(r.carried)
	}
	return err
}

// resend sends each carried statement alone, recording its outcome.
func (r *riding) resend() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), combinedTimeout)
	defer cancel()
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		err = fmt.Errorf("postgres: combined statement: %w", err)
		for _, it := range r.carried {
			it.rows, it.err = 0, err
		}
		return
	}
	defer conn.Release()
	for _, it := range r.carried {
		it.err = sendCombined(ctx, conn, []*combined{it})
	}
}
