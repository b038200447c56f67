// Package groupcommit lets concurrent callers share one round trip (group commit): the first caller to
// arrive leads and runs every item queued at that moment as one batch; callers that arrive meanwhile wait
// for the next batch, which one of them leads. Under load many small calls become few large ones, whose
// cost is mostly per call; a lone caller (one request at a time, as in a Lambda environment) runs its own
// item at once, and nothing is left running in the background after Do returns.
//
// The outbox's combined SQS sends use it. (DB.ExecCombined batches differently: its statements ride the
// next write that gets a connection, see shared/postgres.)
package groupcommit

import (
	"context"
	"sync"
)

// Group queues the items of concurrent callers and runs them in batches, one batch at a time. Set Size
// and Run before the first Do; a Group must not be copied after first use.
type Group[T any] struct {
	// Size returns how many of the queued items the next batch takes, in order; fewer than one counts as
	// one (the leader's own item always goes).
	Size func(queued []T) int
	// Run runs one batch and records each item's outcome in the item itself (T is a pointer type). ctx is
	// the leading caller's: Run should detach from its cancellation, since the batch carries other callers'
	// items too.
	Run func(ctx context.Context, batch []T)

	mu      sync.Mutex
	queue   []waiter[T]
	leading bool
}

type waiter[T any] struct {
	item T
	wake chan bool // true: lead the next batch; false: done
}

// Do queues item and returns once a batch holding it has run.
func (g *Group[T]) Do(ctx context.Context, item T) {
	me := waiter[T]{item: item, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, me)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead && !<-me.wake {
		return
	}
	// Leading: this caller is first in the queue. Run what is queued now, then hand the lead on.
	g.mu.Lock()
	queued := make([]T, len(g.queue))
	for i, w := range g.queue {
		queued[i] = w.item
	}
	n := min(max(g.Size(queued), 1), len(queued))
	waiters := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	g.Run(ctx, queued[:n:n])
	for _, w := range waiters[1:] {
		w.wake <- false
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.leading = false
	}
	g.mu.Unlock()
}
