package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
)

const stripeTestSecret = "whsec_catalog_test_0123456789abcdef"

// stripeFixtureBody is the Stripe event inside events/stripe-webhook/invalid-unsigned.json (a
// checkout.session.completed about tenant ...a001): the same body sam local invoke sends, unsigned.
func stripeFixtureBody(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../events/stripe-webhook/invalid-unsigned.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Body string }
	if err := json.Unmarshal(data, &ev); err != nil || ev.Body == "" {
		t.Fatalf("event file: %v (body %q)", err, ev.Body)
	}
	return []byte(ev.Body)
}

func TestStripeWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t, func(c *config.Config) { c.StripeWebhookSecret = stripeTestSecret })
	h := platform.Handler(env.Deps, catalog.StripeWebhook(env.Deps))
	body := stripeFixtureBody(t)

	post := func(body []byte, signature string) *platformtest.Response {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if signature != "" {
			req.Header.Set("Stripe-Signature", signature)
		}
		return platformtest.Do(t, h, req, "") // no token: the route is public
	}
	sign := func(body []byte, secret string, at time.Time) string {
		return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
	}

	t.Run("refused", func(t *testing.T) {
		for name, sig := range map[string]string{
			"unsigned": "",
			"forged":   sign(body, "whsec_not_ours_0123456789abcdef", time.Now()),
			"stale":    sign(body, stripeTestSecret, time.Now().Add(-6*time.Minute)),
		} {
			if res := post(body, sig); res.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", name, res.Status, res.Body)
			}
		}
		big := []byte(`{"id":"evt_big","pad":"` + strings.Repeat("x", int(env.Deps.Config.MaxBodyBytes)) + `"}`)
		if res := post(big, sign(big, stripeTestSecret, time.Now())); res.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body: status %d, want 413", res.Status)
		}
		var n int
		if err := env.DB.Owner.QueryRow(context.Background(), `SELECT count(*) FROM stripe_events`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("ledger has %d rows (err %v) after refused deliveries, want 0", n, err)
		}
	})

	t.Run("processed once", func(t *testing.T) {
		for i, wantDuplicate := range []bool{false, true} {
			res := post(body, sign(body, stripeTestSecret, time.Now()))
			if res.Status != http.StatusOK {
				t.Fatalf("delivery %d: status %d: %s", i+1, res.Status, res.Body)
			}
			var got struct{ Duplicate bool }
			res.JSON(t, &got)
			if got.Duplicate != wantDuplicate {
				t.Errorf("delivery %d: duplicate = %v, want %v", i+1, got.Duplicate, wantDuplicate)
			}
		}
		var rows []string
		r, err := env.DB.Owner.Query(context.Background(), `
			SELECT id || ' ' || type || ' ' || tenant_id::text || ' ' || object_id || ' ' || object_status || ' ' || (processed_at IS NOT NULL)::text
			FROM stripe_events`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, s)
		}
		want := []string{"evt_1LocalCheckoutCompleted checkout.session.completed 00000000-0000-4000-8000-00000000a001 cs_test_local_0001 complete true"}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("ledger (-want +got):\n%s", diff)
		}
	})
}

func TestStripeWebhookRoute(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	routes := catalog.StripeWebhook(env.Deps)
	if len(routes) != 1 {
		t.Fatalf("%d routes, want 1", len(routes))
	}
	rt := routes[0]
	if rt.Pattern != "POST /webhooks/stripe" || !rt.Public || rt.Policy.Scope != ratelimit.ScopeIP || rt.Idempotency != platform.IdempotencyNone {
		t.Errorf("route %q public=%v scope=%v idempotency=%v; want POST /webhooks/stripe, public, per IP, no Idempotency-Key (the ledger dedupes)",
			rt.Pattern, rt.Public, rt.Policy.Scope, rt.Idempotency)
	}
}
