package ratelimit_test

import (
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/ratelimit"
)

// A handler limits each user of a tenant, answers 429 when the limit is spent and 503 when Redis is down
// for a sensitive policy.
func ExampleLimiter_Allow() {
	rdb := redis.NewClient(&redis.Options{
		Addr:          "127.0.0.1:6379",
		DialTimeout:   200 * time.Millisecond,
		ReadTimeout:   200 * time.Millisecond,
		MaxRetries:    1,
		DialerRetries: 1,
	})
	overrides, err := ratelimit.ParseOverrides("") // RATE_LIMIT_OVERRIDES
	if err != nil {
		panic(err) // in main: return the error from run
	}
	limiter := ratelimit.New(rdb, overrides)
	write := ratelimit.Policy{Name: "horses.write", Rate: 60, Period: time.Minute, Burst: 10, Scope: ratelimit.ScopeUser}

	_ = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenantID, userID := "…", "…" // from auth.FromContext(r.Context())
		d, err := limiter.Allow(r.Context(), write, tenantID, userID)
		switch {
		case errors.Is(err, ratelimit.ErrUnavailable):
			ratelimit.SetHeaders(w.Header(), d)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		ratelimit.SetHeaders(w.Header(), d)
		if !d.Allowed {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		// ... serve the request
	})
}
