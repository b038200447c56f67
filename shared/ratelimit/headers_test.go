package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	write := Policy{Name: "horses.write", Rate: 600, Period: time.Minute, Burst: 50, Scope: ScopeUser}
	login := Policy{Name: "login", Rate: 10, Period: time.Minute, Scope: ScopeIP, Sensitive: true}
	fast := Policy{Name: "ping", Rate: 10, Period: time.Second, Burst: 1, Scope: ScopeIP}

	tests := []struct {
		name string
		d    Decision
		old  http.Header
		want http.Header
	}{
		{
			name: "allowed, burst below rate: window is the refill time",
			d:    Decision{Policy: write, Allowed: true, Remaining: 49, ResetAfter: 100 * time.Millisecond},
			want: http.Header{
				"Ratelimit-Policy": {`"horses.write";q=50;w=5`},
				"Ratelimit":        {`"horses.write";r=49;t=1`},
			},
		},
		{
			name: "allowed, burst defaults to rate: window is the period",
			d:    Decision{Policy: login, Allowed: true, Remaining: 9, ResetAfter: 6 * time.Second},
			want: http.Header{
				"Ratelimit-Policy": {`"login";q=10;w=60`},
				"Ratelimit":        {`"login";r=9;t=6`},
			},
		},
		{
			name: "allowed clears a stale Retry-After",
			d:    Decision{Policy: login.effective(), Allowed: true, Remaining: 0, ResetAfter: 60 * time.Second},
			old:  http.Header{"Retry-After": {"30"}},
			want: http.Header{
				"Ratelimit-Policy": {`"login";q=10;w=60`},
				"Ratelimit":        {`"login";r=0;t=60`},
			},
		},
		{
			name: "denied: Retry-After rounded up",
			d:    Decision{Policy: write, RetryAfter: 1200 * time.Millisecond, ResetAfter: 12500 * time.Millisecond},
			want: http.Header{
				"Ratelimit-Policy": {`"horses.write";q=50;w=5`},
				"Ratelimit":        {`"horses.write";r=0;t=13`},
				"Retry-After":      {"2"},
			},
		},
		{
			name: "denied: sub-second Retry-After is at least 1, window at least 1",
			d:    Decision{Policy: fast, RetryAfter: 80 * time.Millisecond, ResetAfter: 80 * time.Millisecond},
			want: http.Header{
				"Ratelimit-Policy": {`"ping";q=1;w=1`},
				"Ratelimit":        {`"ping";r=0;t=1`},
				"Retry-After":      {"1"},
			},
		},
		{
			name: "denied with zero RetryAfter still says 1",
			d:    Decision{Policy: fast},
			want: http.Header{
				"Ratelimit-Policy": {`"ping";q=1;w=1`},
				"Ratelimit":        {`"ping";r=0;t=0`},
				"Retry-After":      {"1"},
			},
		},
		{
			name: "whole seconds are not rounded up",
			d:    Decision{Policy: write, RetryAfter: 3 * time.Second, ResetAfter: 5 * time.Second},
			want: http.Header{
				"Ratelimit-Policy": {`"horses.write";q=50;w=5`},
				"Ratelimit":        {`"horses.write";r=0;t=5`},
				"Retry-After":      {"3"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.old.Clone()
			if h == nil {
				h = http.Header{}
			}
			SetHeaders(h, tt.d)
			if diff := cmp.Diff(tt.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSFString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"horses.write", `"horses.write"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\there", `"tab?here"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := string(appendSFString(nil, tt.in)); got != tt.want {
			t.Errorf("appendSFString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
