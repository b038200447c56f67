// Package health answers GET /health: liveness plus the state of each dependency, checked in parallel with
// a timeout each, so the on-call engineer sees at a glance which dependency is down.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/logging"
)

// Check reports whether one dependency answers; nil means healthy.
type Check func(ctx context.Context) error

// Report is the body of GET /health.
type Report struct {
	Status string                 `json:"status"` // "ok" or "degraded"
	Checks map[string]CheckResult `json:"checks"`
}

// CheckResult is one dependency's state. Error is a short, non-sensitive reason.
type CheckResult struct {
	Status    string  `json:"status"` // "ok" or "down"
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Handler runs every check in parallel, each within timeout, and answers 200 when all pass, else 503. A check
// still running at its timeout is reported as "timed out" without waiting for it to return.
func Handler(checks map[string]Check, timeout time.Duration) http.Handler {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := Report{Status: "ok", Checks: make(map[string]CheckResult, len(checks))}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), timeout)
				defer cancel()
				start := time.Now()
				err := run(ctx, checks[n])
				res := CheckResult{Status: "ok", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
				if err != nil {
					res.Status, res.Error = "down", reason(ctx)
					logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "health check failed",
						slog.String("check", n), slog.Any("error", err))
				}
				mu.Lock()
				rep.Checks[n] = res
				mu.Unlock()
			})
		}
		wg.Wait()
		status := http.StatusOK
		for _, c := range rep.Checks {
			if c.Status != "ok" {
				rep.Status, status = "degraded", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, r, status, rep)
	})
}

// run returns check's result, or ctx's error as soon as ctx ends: a check that ignores its context cannot
// hold up the answer. Such a check's goroutine finishes in the background whenever the check returns.
func run(ctx context.Context, check Check) error {
	done := make(chan error, 1)
	go func() { done <- check(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reason is what the public body says; the cause may name hosts or credentials and goes to the log only.
func reason(ctx context.Context) string {
	if ctx.Err() != nil {
		return "timed out"
	}
	return "unreachable"
}
