package groupcommit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rocker-app/corral/shared/groupcommit"
)

type item struct {
	n     int
	runs  int // times a batch ran it
	batch int // size of the batch that ran it
}

// Every item of many concurrent callers runs exactly once, in batches no larger than Size allows and one at
// a time, and each caller returns only after its item ran.
func TestGroupRunsEachItemOnceInBatches(t *testing.T) {
	t.Parallel()
	const callers, maxBatch = 200, 7
	var running, batches, largest atomic.Int64
	g := &groupcommit.Group[*item]{
		Size: func(queued []*item) int { return maxBatch },
		Run: func(_ context.Context, batch []*item) {
			if running.Add(1) != 1 {
				t.Error("two batches ran at once")
			}
			defer running.Add(-1)
			batches.Add(1)
			if int64(len(batch)) > largest.Load() {
				largest.Store(int64(len(batch)))
			}
			for _, it := range batch {
				it.runs++
				it.batch = len(batch)
			}
		},
	}
	items := make([]*item, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range items {
		items[i] = &item{n: i}
		wg.Go(func() {
			<-start
			g.Do(context.Background(), items[i])
			if items[i].runs != 1 {
				t.Errorf("item %d: Do returned after %d runs, want 1", i, items[i].runs)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, it := range items {
		if it.runs != 1 || it.batch < 1 || it.batch > maxBatch {
			t.Errorf("item %d ran %d times in a batch of %d; want once, in 1..%d", it.n, it.runs, it.batch, maxBatch)
		}
	}
	if largest.Load() > maxBatch {
		t.Errorf("largest batch %d, over %d", largest.Load(), maxBatch)
	}
	t.Logf("%d callers in %d batches (largest %d)", callers, batches.Load(), largest.Load())

	// A lone caller runs its own batch of one, and the group is idle again afterwards.
	lone := &item{}
	g.Do(context.Background(), lone)
	if lone.runs != 1 || lone.batch != 1 {
		t.Errorf("lone caller: %d runs in a batch of %d; want 1 in 1", lone.runs, lone.batch)
	}
}

// Size may take fewer than queued (the outbox stops at an SQS batch's ten messages); the others wait for
// the next batch, and a Size below one still runs the leader's item.
func TestGroupSize(t *testing.T) {
	t.Parallel()
	var sizes []int
	var mu sync.Mutex
	g := &groupcommit.Group[*item]{
		Size: func([]*item) int { return 0 },
		Run: func(_ context.Context, batch []*item) {
			mu.Lock()
			sizes = append(sizes, len(batch))
			mu.Unlock()
			for _, it := range batch {
				it.runs++
			}
		},
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			it := &item{}
			g.Do(context.Background(), it)
			if it.runs != 1 {
				t.Errorf("ran %d times", it.runs)
			}
		})
	}
	wg.Wait()
	for _, s := range sizes {
		if s != 1 {
			t.Fatalf("batch sizes %v, want all 1 when Size returns 0", sizes)
		}
	}
}
