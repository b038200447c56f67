package localrun_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func TestGoRuntimeEnv(t *testing.T) {
	t.Parallel()
	tpl := &samtemplate.Template{GlobalEnv: map[string]string{"GOMEMLIMIT": "200MiB", "GOGC": "400", "PII_KEY_PROVIDER": "kms"}}
	if diff := cmp.Diff([]string{"GOGC=400", "GOMEMLIMIT=200MiB"}, localrun.GoRuntimeEnv(tpl)); diff != "" {
		t.Errorf("GoRuntimeEnv (-want +got):\n%s", diff)
	}
}

func TestRunnerGCPercent(t *testing.T) {
	t.Parallel()
	env := func(gogc string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		}
	}
	tests := []struct {
		name     string
		template map[string]string
		ownGOGC  string
		want     int
		wantOK   bool
		wantErr  bool
	}{
		{name: "template's", template: map[string]string{"GOGC": "400"}, want: 400, wantOK: true},
		{name: "off", template: map[string]string{"GOGC": "off"}, want: -1, wantOK: true},
		{name: "the runner's own wins", template: map[string]string{"GOGC": "400"}, ownGOGC: "50"},
		{name: "none in the template", template: map[string]string{}},
		{name: "not a number", template: map[string]string{"GOGC": "lots"}, wantErr: true},
		{name: "negative", template: map[string]string{"GOGC": "-5"}, wantErr: true},
	}
	for _, tt := range tests {
		got, ok, err := localrun.RunnerGCPercent(&samtemplate.Template{GlobalEnv: tt.template}, env(tt.ownGOGC))
		if (err != nil) != tt.wantErr || ok != tt.wantOK || got != tt.want {
			t.Errorf("%s: RunnerGCPercent = %d, %v, %v; want %d, %v, error %v", tt.name, got, ok, err, tt.want, tt.wantOK, tt.wantErr)
		}
	}
}
