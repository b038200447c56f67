package stripehook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82"
)

// BenchmarkEndpoint measures one delivery end to end on the local PostgreSQL: signature check, ledger
// insert, the handler and commit for a new event; signature check and the ledger's conflict for a
// duplicate.
//
//	go test -run '^$' -bench Endpoint -benchtime 2000x ./shared/stripehook/
func BenchmarkEndpoint(b *testing.B) {
	b.Run("new event", func(b *testing.B) {
		f := newFixture(b, secret)
		for b.Loop() {
			id := "evt_" + uuid.NewString()
			body := payload(b, id, string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")
			if rec := f.post(b, body, signed(body, secret, time.Now())); rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		f := newFixture(b, secret)
		body := payload(b, "evt_"+uuid.NewString(), string(stripe.EventTypeCheckoutSessionCompleted), stripe.APIVersion, "")
		sig := signed(body, secret, time.Now())
		for b.Loop() {
			if rec := f.post(b, body, sig); rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
