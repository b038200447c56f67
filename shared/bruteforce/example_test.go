package bruteforce_test

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/shared/bruteforce"
	"github.com/rocker-app/corral/shared/httpapi"
)

// A sign-in handler asks Check first, verifies, then reports the outcome. Every refusal has one shape,
// whether the account exists, the password is wrong or a lock is in force.
func ExampleGuard() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	guard, err := bruteforce.New(rdb, bruteforce.Options{}, nil)
	if err != nil {
		panic(err)
	}
	refused := httpapi.Errorf(httpapi.CodeUnauthorized, "the email or the password is wrong, or the account is locked for a while")
	signIn := func(ctx context.Context, accountKey, ip, password string) error {
		d, err := guard.Check(ctx, accountKey, ip)
		if errors.Is(err, bruteforce.ErrUnavailable) {
			return &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "temporarily unavailable", RetryAfter: d.RetryAfter, Err: err}
		}
		if err != nil {
			return httpapi.Internal(err)
		}
		if !d.Allowed {
			return refused // d.Reason goes to the log, never to the client
		}
		// Verify against a dummy hash when the account does not exist, so the time is the same.
		ok := subtle.ConstantTimeCompare([]byte(password), []byte("from the password hash")) == 1
		if !ok {
			if _, err := guard.Failure(ctx, accountKey, ip); errors.Is(err, bruteforce.ErrUnavailable) {
				return &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "temporarily unavailable", RetryAfter: bruteforce.UnavailableRetry, Err: err}
			}
			return refused
		}
		_ = guard.Success(ctx, accountKey, ip) // a failure here only delays the reset
		return nil
	}
	_ = signIn
}
