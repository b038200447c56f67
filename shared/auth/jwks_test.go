package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rocker-app/corral/shared/config"
)

// verifyStep is one step of a JWKS scenario: move the clock, verify a token, count the server's requests.
type verifyStep struct {
	name     string
	advance  time.Duration
	key      testKey
	wantErr  error // nil: the token verifies
	wantHits int64
}

func runSteps(t *testing.T, clock *fakeClock, v *Verifier, srv *jwksServer, steps []verifyStep) {
	t.Helper()
	for i, s := range steps {
		clock.Advance(s.advance)
		// A fresh jti per step keeps the token cache out of the way.
		token := signToken(t, s.key, validClaims(clock.Now(), func(c jwt.MapClaims) { c["jti"] = i }))
		_, err := v.Verify(context.Background(), token)
		switch {
		case s.wantErr == nil && err != nil:
			t.Errorf("step %d (%s): Verify: %v", i, s.name, err)
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Errorf("step %d (%s): Verify = %v; want an error wrapping %v", i, s.name, err, s.wantErr)
		}
		if got := srv.hits.Load(); got != s.wantHits {
			t.Errorf("step %d (%s): JWKS requests = %d; want %d", i, s.name, got, s.wantHits)
		}
	}
}

func TestJWKSFetchPolicy(t *testing.T) {
	t.Parallel()
	k1 := newTestKey(t, "ES256", "k1")
	k2 := newTestKey(t, "ES256", "k2")
	ghost := newTestKey(t, "ES256", "ghost")

	t.Run("lazy first fetch, unknown kid refetches once then is rate-limited", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, jwksDoc(t, k1))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)
		if got := srv.hits.Load(); got != 0 {
			t.Fatalf("JWKS requests after NewVerifier = %d; want 0 (lazy)", got)
		}
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "first token fetches", key: k1, wantHits: 1},
			{name: "known kid uses the cache", key: k1, wantHits: 1},
			{name: "unknown kid right after a fetch", key: ghost, wantErr: ErrInvalidToken, wantHits: 1},
			{name: "unknown kid 31s later refetches", advance: 31 * time.Second, key: ghost, wantErr: ErrInvalidToken, wantHits: 2},
			{name: "unknown kid again", key: ghost, wantErr: ErrInvalidToken, wantHits: 2},
			{name: "and again", advance: 10 * time.Second, key: ghost, wantErr: ErrInvalidToken, wantHits: 2},
			{name: "known kid still verifies", key: k1, wantHits: 2},
			{name: "after the interval one more refetch", advance: 21 * time.Second, key: ghost, wantErr: ErrInvalidToken, wantHits: 3},
		})
	})

	// template.yaml's JwtPublicKeys: the published keys given as JWT_PUBLIC_KEY beside the JWKS URL. A cold
	// start verifies without a fetch; a key added since (rotation) is fetched as before.
	t.Run("keys given as JWT_PUBLIC_KEY spare the fetch until a kid they lack", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, jwksDoc(t, k1, k2))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL, PublicKey: string(jwksDoc(t, k1))}, clock.Now)
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "a given key", key: k1, wantHits: 0},
			{name: "again", advance: time.Hour, key: k1, wantHits: 0},
			{name: "a key added since fetches", key: k2, wantHits: 1},
			{name: "and is cached", key: k2, wantHits: 1},
			{name: "an unknown kid is refused", advance: 31 * time.Second, key: ghost, wantErr: ErrInvalidToken, wantHits: 2},
		})
	})

	t.Run("HS256 tokens never fetch the JWKS", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, jwksDoc(t, k1))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL, HS256Secret: testSecret}, clock.Now)
		hs := hmacKey(testSecret)
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "no kid", key: hs, wantHits: 0},
			{name: "a kid the JWKS lacks", key: hs.withKID("legacy"), wantHits: 0},
			{name: "wrong secret", key: hmacKey(testSecret + "!").withKID("legacy"), wantErr: ErrInvalidToken, wantHits: 0},
			{name: "an ES256 token does", key: k1, wantHits: 1},
		})
	})

	t.Run("key rotation", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, jwksDoc(t, k1))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)
		runSteps(t, clock, v, srv, []verifyStep{{name: "old key", key: k1, wantHits: 1}})
		srv.serve(http.StatusOK, jwksDoc(t, k1, k2))
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "new kid after a refetch", advance: time.Minute, key: k2, wantHits: 2},
			{name: "old kid still verifies", key: k1, wantHits: 2},
			{name: "new kid again, no fetch", key: k2, wantHits: 2},
		})
		srv.serve(http.StatusOK, jwksDoc(t, k2))
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "retired kid verifies until the set is refreshed", key: k1, wantHits: 2},
			{name: "max age refreshes; the retired kid is gone", advance: time.Hour, key: k1, wantErr: ErrInvalidToken, wantHits: 3},
			{name: "current kid", key: k2, wantHits: 3},
		})
	})

	t.Run("max age refresh, stale keys kept when the issuer fails", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, jwksDoc(t, k1))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "first fetch", key: k1, wantHits: 1},
			{name: "59 minutes later", advance: 59 * time.Minute, key: k1, wantHits: 1},
			{name: "past an hour", advance: 2 * time.Minute, key: k1, wantHits: 2},
		})
		srv.serve(http.StatusInternalServerError, []byte(`{"error":"down"}`))
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "refresh fails, stale set serves", advance: time.Hour, key: k1, wantHits: 3},
			{name: "no retry within the interval", advance: 10 * time.Second, key: k1, wantHits: 3},
			{name: "retry after the interval", advance: 25 * time.Second, key: k1, wantHits: 4},
		})
	})

	t.Run("issuer unreachable at first use", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		srv := newJWKSServer(t, []byte(`<html>oops</html>`))
		v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "bad document", key: k1, wantErr: ErrKeysUnavailable, wantHits: 1},
			{name: "no retry within the backoff", advance: time.Second, key: k1, wantErr: ErrKeysUnavailable, wantHits: 1},
		})
		srv.serve(http.StatusOK, []byte(`{"keys":[]}`))
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "empty key set", advance: 5 * time.Second, key: k1, wantErr: ErrKeysUnavailable, wantHits: 2},
		})
		srv.serve(http.StatusOK, jwksDoc(t, k1))
		runSteps(t, clock, v, srv, []verifyStep{
			{name: "recovers after the backoff", advance: 5 * time.Second, key: k1, wantHits: 3},
		})
	})
}

func TestJWKSKeysUnavailableIsAlsoInvalidToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newJWKSServer(t, nil)
	srv.serve(http.StatusServiceUnavailable, nil)
	k1 := newTestKey(t, "ES256", "k1")
	v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)
	_, err := v.Verify(context.Background(), signToken(t, k1, validClaims(clock.Now(), nil)))
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("Verify with the JWKS down = %v; want ErrInvalidToken and ErrKeysUnavailable", err)
	}
}

func TestJWKSConcurrentFetchesCollapse(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k1 := newTestKey(t, "ES256", "k1")
	srv := newJWKSServer(t, jwksDoc(t, k1))
	gate, enter := make(chan struct{}), make(chan struct{}, 64)
	srv.mu.Lock()
	srv.gate, srv.enter = gate, enter
	srv.mu.Unlock()
	v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)

	const callers = 16
	tokens := make([]string, callers)
	for i := range tokens {
		tokens[i] = signToken(t, k1, validClaims(clock.Now(), func(c jwt.MapClaims) { c["jti"] = i }))
	}
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	verify := func(token string) {
		defer wg.Done()
		_, err := v.Verify(context.Background(), token)
		errs <- err
	}
	wg.Add(1)
	go verify(tokens[0])
	<-enter // the first fetch is now held open by the server
	for _, tok := range tokens[1:] {
		wg.Add(1)
		go verify(tok)
	}
	time.Sleep(20 * time.Millisecond) // let the others reach the fetch in flight; correctness does not depend on it
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS requests = %d for %d concurrent first verifications; want 1", got, callers)
	}
}

func TestJWKSFetchSurvivesCallerCancellation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k1 := newTestKey(t, "ES256", "k1")
	srv := newJWKSServer(t, jwksDoc(t, k1))
	gate, enter := make(chan struct{}), make(chan struct{}, 8)
	srv.mu.Lock()
	srv.gate, srv.enter = gate, enter
	srv.mu.Unlock()
	v := newTestVerifier(t, config.JWT{JWKSURL: srv.URL}, clock.Now)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, signToken(t, k1, validClaims(clock.Now(), nil)))
		done <- err
	}()
	<-enter
	cancel()
	if err := <-done; !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify with a cancelled context = %v; want ErrInvalidToken", err)
	}
	close(gate) // the detached fetch completes and fills the key set for the next caller

	if _, err := v.Verify(context.Background(), signToken(t, k1, validClaims(clock.Now(), func(c jwt.MapClaims) { c["jti"] = "2" }))); err != nil {
		t.Errorf("Verify after the detached fetch: %v", err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS requests = %d; want 1 (the cancelled caller's fetch is reused)", got)
	}
}
