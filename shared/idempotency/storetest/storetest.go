// Package storetest is the conformance suite every idempotency.Store must pass; each store's tests call
// Run with a factory. Import it from _test.go files only.
package storetest

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/idempotency"
)

// Factory returns a fresh store and a function that makes keys unique to this test. anonymous asks for a
// key with no tenant and no user.
type Factory func(t *testing.T) (store idempotency.Store, newKey func(anonymous bool) idempotency.Key)

var (
	hashA = []byte("request-a-fingerprint-0000000000")
	hashB = []byte("request-b-fingerprint-0000000000")
)

const (
	lease = 30 * time.Second
	ttl   = time.Hour
)

// Run runs the suite.
func Run(t *testing.T, newStore Factory) {
	ctx := context.Background()
	begin := func(t *testing.T, s idempotency.Store, k idempotency.Key, hash []byte, lease, ttl time.Duration) idempotency.Outcome {
		t.Helper()
		out, err := s.Begin(ctx, k, hash, lease, ttl)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		return out
	}

	t.Run("first takes the lease, duplicates see it in flight or mismatched", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		for _, anonymous := range []bool{false, true} {
			k := newKey(anonymous)
			if out := begin(t, s, k, hashA, lease, ttl); out.Lease == "" {
				t.Fatalf("anonymous=%v: no lease: %+v", anonymous, out)
			}
			if out := begin(t, s, k, hashA, lease, ttl); !out.InFlight || out.Lease != "" {
				t.Fatalf("anonymous=%v: duplicate = %+v, want in flight", anonymous, out)
			}
			if out := begin(t, s, k, hashB, lease, ttl); !out.Mismatch {
				t.Fatalf("anonymous=%v: other payload = %+v, want mismatch", anonymous, out)
			}
		}
	})

	t.Run("completed responses replay exactly", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		out := begin(t, s, k, hashA, lease, ttl)
		want := idempotency.Record{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/horses/1"}}, Body: []byte(`{"id":1}`)}
		if err := s.Complete(ctx, k, out.Lease, want); err != nil {
			t.Fatal(err)
		}
		got := begin(t, s, k, hashA, lease, ttl)
		if got.Completed == nil {
			t.Fatalf("after Complete: %+v", got)
		}
		if diff := cmp.Diff(want, *got.Completed); diff != "" {
			t.Errorf("replayed record (-want +got):\n%s", diff)
		}
		if out := begin(t, s, k, hashB, lease, ttl); !out.Mismatch {
			t.Fatalf("completed key, other payload = %+v, want mismatch", out)
		}
	})

	t.Run("only the lease owner completes", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		begin(t, s, k, hashA, lease, ttl)
		err := s.Complete(ctx, k, "00000000-0000-4000-8000-000000000000", idempotency.Record{Status: 200})
		if !errors.Is(err, idempotency.ErrLeaseLost) {
			t.Fatalf("Complete with a foreign lease = %v, want ErrLeaseLost", err)
		}
	})

	t.Run("an expired lease is taken over and the slow first attempt cannot overwrite", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		slow := begin(t, s, k, hashA, time.Millisecond, ttl)
		time.Sleep(20 * time.Millisecond)
		fresh := begin(t, s, k, hashA, lease, ttl)
		if fresh.Lease == "" || fresh.Lease == slow.Lease {
			t.Fatalf("takeover = %+v", fresh)
		}
		if err := s.Complete(ctx, k, slow.Lease, idempotency.Record{Status: 201, Body: []byte("old")}); !errors.Is(err, idempotency.ErrLeaseLost) {
			t.Fatalf("slow Complete = %v, want ErrLeaseLost", err)
		}
		if err := s.Complete(ctx, k, fresh.Lease, idempotency.Record{Status: 201, Body: []byte("new")}); err != nil {
			t.Fatal(err)
		}
		if got := begin(t, s, k, hashA, lease, ttl); got.Completed == nil || string(got.Completed.Body) != "new" {
			t.Fatalf("replay = %+v", got)
		}
	})

	t.Run("an expired lease with another payload is still a mismatch", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		begin(t, s, k, hashA, time.Millisecond, ttl)
		time.Sleep(20 * time.Millisecond)
		if out := begin(t, s, k, hashB, lease, ttl); !out.Mismatch {
			t.Fatalf("got %+v, want mismatch", out)
		}
	})

	t.Run("release lets a retry start afresh", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		out := begin(t, s, k, hashA, lease, ttl)
		if err := s.Release(ctx, k, out.Lease); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, k, out.Lease); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		if again := begin(t, s, k, hashB, lease, ttl); again.Lease == "" {
			t.Fatalf("after release: %+v", again)
		}
	})

	t.Run("records expire after their ttl", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		out := begin(t, s, k, hashA, lease, 10*time.Millisecond)
		if err := s.Complete(ctx, k, out.Lease, idempotency.Record{Status: 201}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if again := begin(t, s, k, hashB, lease, ttl); again.Lease == "" {
			t.Fatalf("expired record not replaced: %+v", again)
		}
	})

	t.Run("concurrent first requests: exactly one lease", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		const n = 8
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			leases int
			errs   []error
		)
		for range n {
			wg.Go(func() {
				out, err := s.Begin(ctx, k, hashA, lease, ttl)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if out.Lease != "" {
					leases++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if leases != 1 {
			t.Fatalf("%d leases granted, want 1", leases)
		}
	})

	t.Run("keys are scoped by tenant, user and route", func(t *testing.T) {
		t.Parallel()
		s, newKey := newStore(t)
		k := newKey(false)
		begin(t, s, k, hashA, lease, ttl)
		otherRoute := k
		otherRoute.Route = "POST /elsewhere"
		otherUser := k
		otherUser.UserID = "00000000-0000-4000-8000-00000000beef"
		for _, o := range []idempotency.Key{otherRoute, otherUser, newKey(false)} {
			o.Key = k.Key
			if out := begin(t, s, o, hashB, lease, ttl); out.Lease == "" {
				t.Fatalf("%+v: %+v, want a lease of its own", o, out)
			}
		}
	})
}
