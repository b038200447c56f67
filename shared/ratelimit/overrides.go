package ratelimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Overrides replaces the rate, period and burst of named policies for single tenants, for example a
// customer on a larger plan. The zero value has no overrides. An Overrides is read-only after
// ParseOverrides and safe for concurrent use.
type Overrides struct {
	// byTenant maps a canonical (lowercase) tenant UUID to policy name to limit.
	byTenant map[string]map[string]limit
}

type limit struct {
	rate   int
	period time.Duration
	burst  int
}

type overrideJSON struct {
	Rate   int    `json:"rate"`
	Period string `json:"period"`
	Burst  int    `json:"burst"`
}

// ParseOverrides reads a JSON document mapping tenant UUID to policy name to limit, as found in
// RATE_LIMIT_OVERRIDES:
//
//	{"6f1c...": {"horses.write": {"rate": 600, "period": "1m", "burst": 50}}}
//
// rate and period (a Go duration such as "1m" or "30s") are required; burst may be omitted and then equals
// rate. An empty or all-blank string means no overrides. It returns one error naming every bad tenant,
// policy or field (unknown fields included), and no Overrides, when anything is wrong.
func ParseOverrides(jsonText string) (Overrides, error) {
	if strings.TrimSpace(jsonText) == "" {
		return Overrides{}, nil
	}
	var doc map[string]map[string]overrideJSON
	dec := json.NewDecoder(strings.NewReader(jsonText))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Overrides{}, fmt.Errorf("ratelimit: overrides: %w", err)
	}
	if dec.More() {
		return Overrides{}, errors.New("ratelimit: overrides: trailing data after the JSON object")
	}

	var errs []error
	out := Overrides{byTenant: make(map[string]map[string]limit, len(doc))}
	for _, tenant := range slices.Sorted(maps.Keys(doc)) {
		id, err := uuid.Parse(tenant)
		if err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: overrides: tenant %q is not a UUID", tenant))
			continue
		}
		canon := id.String()
		if _, dup := out.byTenant[canon]; dup {
			errs = append(errs, fmt.Errorf("ratelimit: overrides: tenant %s appears twice", canon))
			continue
		}
		policies := make(map[string]limit, len(doc[tenant]))
		for _, name := range slices.Sorted(maps.Keys(doc[tenant])) {
			o := doc[tenant][name]
			if err := validateName(name); err != nil {
				errs = append(errs, fmt.Errorf("ratelimit: overrides: tenant %s: %w", canon, err))
				continue
			}
			period, err := time.ParseDuration(o.Period)
			if err != nil {
				errs = append(errs, fmt.Errorf("ratelimit: overrides: tenant %s policy %q: period %q is not a duration like \"1m\"", canon, name, o.Period))
				continue
			}
			if err := validateLimit(o.Rate, period, o.Burst); err != nil {
				errs = append(errs, fmt.Errorf("ratelimit: overrides: tenant %s policy %q: %w", canon, name, err))
				continue
			}
			policies[name] = limit{rate: o.Rate, period: period, burst: o.Burst}
		}
		out.byTenant[canon] = policies
	}
	if len(errs) > 0 {
		return Overrides{}, errors.Join(errs...)
	}
	return out, nil
}

// Apply returns p with the tenant's override for p.Name, if any, replacing Rate, Period and Burst, and a
// zero Burst filled in with Rate. tenantID is matched in canonical lowercase UUID form, the form the
// auth package's Principal carries.
func (o Overrides) Apply(tenantID string, p Policy) Policy {
	if l, ok := o.byTenant[tenantID][p.Name]; ok {
		p.Rate, p.Period, p.Burst = l.rate, l.period, l.burst
	}
	return p.effective()
}

// Len returns how many tenants have at least one override.
func (o Overrides) Len() int { return len(o.byTenant) }
