package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/groupcommit"
)

// Combined statements (DB.ExecCombined): the short bookkeeping writes that follow a request's effect
// (storing its idempotent response, marking its outbox entries published) cost a round trip each, about
// as much as the effect itself when one pool serves many concurrent requests (measured on the local
// runner's 2-connection pool: a second round trip per request halved the write throughput). So concurrent
// callers share one: the first caller becomes the leader and sends every statement queued at that moment
// in one pipelined batch, one implicit transaction, one commit; callers that queue meanwhile wait for the
// next batch, sent by one of them. This is group commit. A lone caller (one request at a time, as in a
// Lambda environment) sends its own statement at once, as before: nothing is left running in the
// background after it returns.
const (
	// maxCombined bounds the statements of one batch.
	maxCombined = 64
	// combinedTimeout bounds one batch; it runs detached from the callers' cancellation, since it carries
	// the statements of several of them.
	combinedTimeout = 5 * time.Second
)

// combined is one queued statement.
type combined struct {
	tenant, user string
	sql          string
	args         []any

	rows int64 // rows affected, once done
	err  error
}

// combiner queues statements and sends them in batches, one batch at a time.
type combiner struct {
	pool  *pgxpool.Pool
	group groupcommit.Group[*combined]
}

func newCombiner(pool *pgxpool.Pool) *combiner {
	c := &combiner{pool: pool}
	c.group.Size = func([]*combined) int { return maxCombined }
	c.group.Run = c.run
	return c
}

// ExecCombined runs one single-statement write for principal p in a round trip and transaction shared with
// the other ExecCombined calls waiting at the same moment (see the comment on maxCombined), and returns the
// rows it affected. Each statement runs after its own principal's settings, so row-level security confines
// it as if it ran alone; statements of other callers are not visible to the caller. If the shared batch
// fails, every statement of it is retried alone, so one failing statement does not fail the others. It
// is meant for short bookkeeping writes whose caller can wait a batch: its errors are wrapped with %w.
// The write is committed when ExecCombined returns nil.
func (db *DB) ExecCombined(ctx context.Context, p auth.Principal, sql string, args ...any) (int64, error) {
	it := &combined{tenant: p.TenantID, user: p.UserID, sql: sql, args: args}
	db.combine.group.Do(ctx, it)
	return it.rows, it.err
}

// run sends batch as one pipelined batch (one implicit transaction) and records each statement's outcome;
// when the batch fails it sends each statement alone.
func (c *combiner) run(ctx context.Context, batch []*combined) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), combinedTimeout)
	defer cancel()
	if len(batch) > 1 && c.send(ctx, batch) == nil {
		return
	}
	for _, it := range batch {
		it.err = c.send(ctx, []*combined{it})
	}
}

func (c *combiner) send(ctx context.Context, batch []*combined) error {
	b := &pgx.Batch{}
	for i, it := range batch {
		if newPrincipal(batch, i) {
			b.Queue(setPrincipalSQL, it.tenant, it.user)
		}
		b.Queue(it.sql, it.args...)
	}
	br := c.pool.SendBatch(ctx, b)
	var err error
	for i, it := range batch {
		if newPrincipal(batch, i) {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		tag, execErr := br.Exec()
		if err = execErr; err != nil {
			break
		}
		it.rows = tag.RowsAffected()
	}
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
