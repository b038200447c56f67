package ratelimit

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	base := Policy{Name: "horses.write", Rate: 60, Period: time.Minute, Burst: 10, Scope: ScopeUser}
	other := Policy{Name: "horses.read", Rate: 60, Period: time.Minute, Scope: ScopeUser}

	tests := []struct {
		name    string
		json    string
		wantErr []string // substrings; nil means valid
		tenant  string
		p       Policy
		want    Policy
	}{
		{name: "empty means none", json: "", tenant: tenantA, p: base, want: base},
		{name: "blank means none", json: " \n", tenant: tenantA, p: base, want: base},
		{
			name:   "override applies",
			json:   `{"` + tenantA + `": {"horses.write": {"rate": 600, "period": "1m", "burst": 50}}}`,
			tenant: tenantA, p: base,
			want: Policy{Name: "horses.write", Rate: 600, Period: time.Minute, Burst: 50, Scope: ScopeUser},
		},
		{
			name:   "burst omitted equals rate",
			json:   `{"` + tenantA + `": {"horses.write": {"rate": 30, "period": "10s"}}}`,
			tenant: tenantA, p: base,
			want: Policy{Name: "horses.write", Rate: 30, Period: 10 * time.Second, Burst: 30, Scope: ScopeUser},
		},
		{
			name:   "uppercase tenant is canonicalised",
			json:   `{"` + strings.ToUpper(tenantA) + `": {"horses.write": {"rate": 600, "period": "1m", "burst": 50}}}`,
			tenant: tenantA, p: base,
			want: Policy{Name: "horses.write", Rate: 600, Period: time.Minute, Burst: 50, Scope: ScopeUser},
		},
		{
			name:   "other tenant untouched",
			json:   `{"` + tenantA + `": {"horses.write": {"rate": 600, "period": "1m"}}}`,
			tenant: tenantB, p: base, want: base,
		},
		{
			name:   "other policy untouched, burst filled",
			json:   `{"` + tenantA + `": {"horses.write": {"rate": 600, "period": "1m"}}}`,
			tenant: tenantA, p: other,
			want: Policy{Name: "horses.read", Rate: 60, Period: time.Minute, Burst: 60, Scope: ScopeUser},
		},
		{name: "not JSON", json: `{`, wantErr: []string{"overrides"}},
		{name: "not an object", json: `[]`, wantErr: []string{"overrides"}},
		{name: "trailing data", json: `{} {}`, wantErr: []string{"trailing"}},
		{name: "unknown field", json: `{"` + tenantA + `": {"p": {"rate": 1, "period": "1m", "brust": 2}}}`, wantErr: []string{"brust"}},
		{name: "tenant not a UUID", json: `{"acme": {"p": {"rate": 1, "period": "1m"}}}`, wantErr: []string{`"acme" is not a UUID`}},
		{name: "bad policy name", json: `{"` + tenantA + `": {"a b": {"rate": 1, "period": "1m"}}}`, wantErr: []string{`"a b"`}},
		{name: "missing period", json: `{"` + tenantA + `": {"p": {"rate": 1}}}`, wantErr: []string{`period ""`}},
		{name: "period not a duration", json: `{"` + tenantA + `": {"p": {"rate": 1, "period": "60"}}}`, wantErr: []string{`period "60"`}},
		{name: "missing rate", json: `{"` + tenantA + `": {"p": {"period": "1m"}}}`, wantErr: []string{"rate 0"}},
		{name: "negative burst", json: `{"` + tenantA + `": {"p": {"rate": 1, "period": "1m", "burst": -2}}}`, wantErr: []string{"burst -2"}},
		{
			name:    "every problem is named",
			json:    `{"acme": {}, "` + tenantA + `": {"p": {"rate": 0, "period": "1m"}, "q": {"rate": 1, "period": "x"}}}`,
			wantErr: []string{`"acme"`, `policy "p"`, `policy "q"`},
		},
		{
			name:    "same tenant twice in different case",
			json:    `{"` + tenantA + `": {}, "` + strings.ToUpper(tenantA) + `": {}}`,
			wantErr: []string{"appears twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseOverrides(tt.json)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseOverrides succeeded, want an error containing %q", tt.wantErr)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if o.Len() != 0 {
					t.Errorf("failed parse returned %d tenants, want none", o.Len())
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOverrides: %v", err)
			}
			if diff := cmp.Diff(tt.want, o.Apply(tt.tenant, tt.p)); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
}
