package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// JWKS refresh policy.
const (
	// jwksMinRefresh is the least time between two fetches once a key set is loaded, whether caused by a token
	// naming an unknown kid or by the set's age: garbage kids cannot make the verifier hammer the issuer.
	jwksMinRefresh = 30 * time.Second
	// jwksRetryBackoff is the least time between fetch attempts while no key set has ever loaded.
	jwksRetryBackoff = 5 * time.Second
	// jwksMaxAge is how long a loaded key set is used before it is fetched again.
	jwksMaxAge = time.Hour
	// jwksFetchTimeout bounds one fetch; it does not depend on the cancellation of the request that started it.
	jwksFetchTimeout = 10 * time.Second
	// jwksMaxBytes bounds the size of a JWKS document.
	jwksMaxBytes = 1 << 20
)

// jwksSource is a JWKS URL with its cached key set. It is safe for concurrent use; concurrent fetches collapse
// into one.
type jwksSource struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	set       *keySet   // nil until the first successful fetch
	fetchedAt time.Time // last successful fetch
	attemptAt time.Time // last fetch started
	lastErr   error     // error of the last fetch, nil after a success
	inflight  *jwksFetch
}

// jwksFetch is one fetch in flight; done is closed when set and err are final.
type jwksFetch struct {
	done chan struct{}
	set  *keySet
	err  error
}

// current returns the key set, fetching it on first need and again once older than jwksMaxAge. A failed
// refresh keeps the previous set in service; err is non-nil only when there is no set at all.
func (s *jwksSource) current(ctx context.Context) (*keySet, error) {
	s.mu.Lock()
	now := s.now()
	if s.set != nil {
		fresh := now.Sub(s.fetchedAt) < jwksMaxAge
		if fresh || s.inflight != nil || now.Sub(s.attemptAt) < jwksMinRefresh {
			set := s.set
			s.mu.Unlock()
			return set, nil
		}
	} else if s.inflight == nil && !s.attemptAt.IsZero() && now.Sub(s.attemptAt) < jwksRetryBackoff {
		err := s.lastErr
		s.mu.Unlock()
		return nil, fmt.Errorf("JWKS fetch failed less than %s ago: %w", jwksRetryBackoff, err)
	}
	f, stale := s.startLocked(ctx), s.set
	s.mu.Unlock()
	set, err := s.wait(ctx, f, stale)
	if set != nil {
		return set, nil
	}
	return nil, err
}

// refresh fetches the key set again because a token named a kid the set lacks, unless a fetch started less
// than jwksMinRefresh ago (one in flight is joined). fetched reports whether the returned set may differ from
// the one current returned; err describes a failed fetch.
func (s *jwksSource) refresh(ctx context.Context) (set *keySet, fetched bool, err error) {
	s.mu.Lock()
	if s.inflight == nil && !s.attemptAt.IsZero() && s.now().Sub(s.attemptAt) < jwksMinRefresh {
		set, err = s.set, s.lastErr
		s.mu.Unlock()
		return set, false, err
	}
	f, stale := s.startLocked(ctx), s.set
	s.mu.Unlock()
	set, err = s.wait(ctx, f, stale)
	return set, true, err
}

// startLocked joins the fetch in flight or starts one. The fetch runs detached from ctx's cancellation so
// that one caller giving up does not fail the others waiting on it. s.mu must be held.
func (s *jwksSource) startLocked(ctx context.Context) *jwksFetch {
	if s.inflight != nil {
		return s.inflight
	}
	f := &jwksFetch{done: make(chan struct{})}
	s.inflight = f
	s.attemptAt = s.now()
	go s.run(context.WithoutCancel(ctx), f)
	return f
}

func (s *jwksSource) run(ctx context.Context, f *jwksFetch) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	set, err := s.download(ctx)

	s.mu.Lock()
	if err == nil {
		s.set, s.fetchedAt, s.lastErr = set, s.now(), nil
	} else {
		s.lastErr = err
	}
	s.inflight = nil
	f.set, f.err = set, err
	s.mu.Unlock()
	close(f.done)
}

// wait returns the fetched set, or stale (possibly nil) with the reason when the fetch failed or ctx ended.
func (s *jwksSource) wait(ctx context.Context, f *jwksFetch, stale *keySet) (*keySet, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return stale, fmt.Errorf("waiting for JWKS: %w", ctx.Err())
	}
	if f.err != nil {
		return stale, f.err
	}
	return f.set, nil
}

func (s *jwksSource) download(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS fetch: %s answered %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("JWKS read: %w", err)
	}
	if len(body) > jwksMaxBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", jwksMaxBytes)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		reason := "no keys"
		if len(skipped) > 0 {
			reason = strings.Join(skipped, "; ")
		}
		return nil, errors.New("JWKS has no usable signature key: " + reason)
	}
	return newKeySet(keys), nil
}
