package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	ok := Policy{Name: "horses.write", Rate: 60, Period: time.Minute, Burst: 10, Scope: ScopeUser}
	with := func(f func(*Policy)) Policy { p := ok; f(&p); return p }

	tests := []struct {
		name    string
		p       Policy
		wantErr string // substring; "" means valid
	}{
		{"valid", ok, ""},
		{"burst zero means rate", with(func(p *Policy) { p.Burst = 0 }), ""},
		{"ip scope", with(func(p *Policy) { p.Scope = ScopeIP }), ""},
		{"tenant scope", with(func(p *Policy) { p.Scope = ScopeTenant }), ""},
		{"sub-second period", with(func(p *Policy) { p.Rate, p.Period = 10, 100*time.Millisecond }), ""},
		{"empty name", with(func(p *Policy) { p.Name = "" }), "1 to 64"},
		{"long name", with(func(p *Policy) { p.Name = strings.Repeat("a", 65) }), "1 to 64"},
		{"name with colon", with(func(p *Policy) { p.Name = "a:b" }), "only A-Z"},
		{"name with quote", with(func(p *Policy) { p.Name = `a"b` }), "only A-Z"},
		{"zero rate", with(func(p *Policy) { p.Rate = 0 }), "rate 0"},
		{"zero period", with(func(p *Policy) { p.Period = 0 }), "period"},
		{"period under 1ms", with(func(p *Policy) { p.Period = time.Microsecond }), "period"},
		{"rate finer than 1ns", with(func(p *Policy) { p.Rate, p.Period = 2_000_000, time.Millisecond }), "nanosecond"},
		{"negative burst", with(func(p *Policy) { p.Burst = -1 }), "burst -1"},
		{"burst overflows", with(func(p *Policy) { p.Rate, p.Period, p.Burst = 1, 24*time.Hour, 1<<40 }), "time.Duration"},
		{"no scope", with(func(p *Policy) { p.Scope = 0 }), "unknown scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{ScopeUser.String(), "user"},
		{ScopeIP.String(), "ip"},
		{ScopeTenant.String(), "tenant"},
		{Scope(9).String(), "Scope(9)"},
		{SourceRedis.String(), "redis"},
		{SourceShield.String(), "shield"},
		{SourceFallback.String(), "fallback"},
		{Source(0).String(), "Source(0)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestClientNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ClientNetwork(tt.ip, IPv6ClientPrefix); got != tt.want {
			t.Errorf("ClientNetwork(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if got := ClientNetwork("2001:db8:1:2::9", 48); got != "2001:db8:1::/48" {
		t.Errorf("ClientNetwork with a /48 = %q, want 2001:db8:1::/48", got)
	}
}
