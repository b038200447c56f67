package outbox

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rocker-app/corral/shared/groupcommit"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Sends of Publish are combined across concurrent callers (group commit, package groupcommit), in
// sendLanes lanes: in each, the first caller becomes the leader and sends every message queued at that
// moment (up to one SQS batch of sendBatchMax) in one call per queue; callers that queue meanwhile wait
// for the next call, made by one of them. Under load this turns many SendMessage calls into few SendMessageBatch calls, whose cost is mostly
// per call; a lone caller (one request at a time, as in a Lambda environment) sends at once, as before,
// and nothing runs in the background after it returns.
const (
	// sendBatchMax is SQS's limit of messages per SendMessageBatch.
	sendBatchMax = 10
	// sendTimeout bounds one combined send; it runs detached from the callers' cancellation, since it
	// carries the messages of several of them.
	sendTimeout = 10 * time.Second
	// sendLanes is how many combined sends may be in flight at once. One lane made every send wait for the
	// one before it, which capped the writes at about ten messages per SQS round trip (measured: ~900
	// POST /horses a second on the local runner, whatever the database did); callers are spread over the
	// lanes in turn, each lane batching its own queue.
	sendLanes = 4
)

type sendItem struct {
	queue string
	msgs  []sqsx.Message
	err   error
}

type sendCombiner struct {
	pub   Publisher
	next  atomic.Uint32
	lanes [sendLanes]groupcommit.Group[*sendItem]
}

func newSendCombiner(pub Publisher) *sendCombiner {
	c := &sendCombiner{pub: pub}
	for i := range c.lanes {
		// Up to one SQS batch of messages; an item larger than that still goes, alone.
		c.lanes[i].Size = func(queued []*sendItem) int {
			n, size := 0, 0
			for n < len(queued) && (n == 0 || size+len(queued[n].msgs) <= sendBatchMax) {
				size += len(queued[n].msgs)
				n++
			}
			return n
		}
		c.lanes[i].Run = c.send
	}
	return c
}

// Send implements Publisher: it returns nil when the queue accepted every message of msgs, a
// *sqsx.SendError naming those it did not when it refused some, and another error when the call failed.
func (c *sendCombiner) Send(ctx context.Context, queue string, msgs ...sqsx.Message) error {
	it := &sendItem{queue: queue, msgs: msgs}
	c.lanes[c.next.Add(1)%sendLanes].Do(ctx, it)
	return it.err
}

// send makes one call per queue of batch and gives each item its share of the outcome.
func (c *sendCombiner) send(ctx context.Context, batch []*sendItem) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	var queues []string
	for _, it := range batch {
		if !slices.Contains(queues, it.queue) {
			queues = append(queues, it.queue)
		}
	}
	for _, q := range queues {
		var msgs []sqsx.Message
		for _, it := range batch {
			if it.queue == q {
				msgs = append(msgs, it.msgs...)
			}
		}
		err := c.pub.Send(ctx, q, msgs...)
		var se *sqsx.SendError
		partial := errors.As(err, &se)
		for _, it := range batch {
			if it.queue != q {
				continue
			}
			if !partial {
				it.err = err
				continue
			}
			var mine []sqsx.Failure
			for _, f := range se.Failed {
				if slices.ContainsFunc(it.msgs, func(m sqsx.Message) bool { return m.ID == f.ID }) {
					mine = append(mine, f)
				}
			}
			if len(mine) > 0 {
				it.err = &sqsx.SendError{Failed: mine}
			}
		}
	}
}
