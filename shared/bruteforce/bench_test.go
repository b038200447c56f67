package bruteforce_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/rocker-app/corral/shared/bruteforce"
)

// BenchmarkCheck measures one Check (one EVALSHA) against the real Redis.
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b, bruteforce.Options{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.g.Check(ctx, alice, ipA); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFailure measures one Failure (one EVALSHA updating the account, the IP and the spread set),
// each on a fresh account from a fresh IP so that no lock cuts the work short.
func BenchmarkFailure(b *testing.B) {
	f := newFixture(b, bruteforce.Options{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		n := strconv.Itoa(i)
		if _, err := f.g.Failure(ctx, "acct-"+n, "10.0."+strconv.Itoa(i/250%250)+"."+strconv.Itoa(i%250)); err != nil {
			b.Fatal(err)
		}
	}
}
