package main

import (
	"slices"
	"testing"

	"github.com/rocker-app/corral/shared/samtemplate"
)

// A function gets DATABASE_MAINTENANCE_URL only when the template gives it one.
func TestEnvForGivesOwnVariablesToTheirFunctions(t *testing.T) {
	t.Parallel()
	tpl, _, err := samtemplate.FindAndLoad(".")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"DATABASE_URL=postgres://app", "DATABASE_MAINTENANCE_URL=postgres://maint", "REDIS_URL=redis://r"}
	tests := []struct {
		name      string
		wantMaint bool
	}{
		{"cleanup", true},
		{"partition-maintenance", true},
		{"horses", false},
		{"businesses", false},
		{"hello", true}, // not in the template: left as it is
	}
	for _, tt := range tests {
		got := envFor(tpl, tt.name, base)
		if has := slices.Contains(got, "DATABASE_MAINTENANCE_URL=postgres://maint"); has != tt.wantMaint {
			t.Errorf("%s: has DATABASE_MAINTENANCE_URL = %v, want %v (env %q)", tt.name, has, tt.wantMaint, got)
		}
		if !slices.Contains(got, "DATABASE_URL=postgres://app") || !slices.Contains(got, "REDIS_URL=redis://r") {
			t.Errorf("%s: lost a shared variable: %q", tt.name, got)
		}
	}
}
