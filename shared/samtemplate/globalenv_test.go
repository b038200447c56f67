package samtemplate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// GlobalEnv holds the literal variables of Globals.Function.Environment, not those from intrinsics.
func TestGlobalEnv(t *testing.T) {
	t.Parallel()
	const tpl = `
Parameters:
  LogLevel: {Type: String, Default: info}
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: !Ref LogLevel
        REGION: !Sub "${AWS::Region}"
        GOGC: "400"
        GOMAXPROCS: "2"
        GOMEMLIMIT: 200MiB
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/f
`
	got := loadText(t, tpl)
	want := map[string]string{"GOGC": "400", "GOMAXPROCS": "2", "GOMEMLIMIT": "200MiB"}
	if diff := cmp.Diff(want, got.GlobalEnv); diff != "" {
		t.Errorf("GlobalEnv (-want +got):\n%s", diff)
	}
}

// The repository's template sets the collector for every function.
func TestRepoTemplateSetsGOGC(t *testing.T) {
	t.Parallel()
	tpl, _ := loadRepoTemplate(t)
	if tpl.GlobalEnv["GOGC"] == "" || tpl.GlobalEnv["GOMEMLIMIT"] == "" {
		t.Errorf("Globals sets GOGC %q and GOMEMLIMIT %q, want both", tpl.GlobalEnv["GOGC"], tpl.GlobalEnv["GOMEMLIMIT"])
	}
}

// A function's Env names its own variables only, not those of the Globals.
func TestFunctionEnv(t *testing.T) {
	t.Parallel()
	const tpl = `
Parameters:
  MaintUrl: {Type: String, Default: ""}
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: info
Resources:
  CleanupFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/cleanup
      Environment:
        Variables:
          FUNCTION_NAME: cleanup
          DATABASE_MAINTENANCE_URL: !Ref MaintUrl
  HorsesFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/horses
`
	got := loadText(t, tpl)
	want := map[string][]string{"cleanup": {"DATABASE_MAINTENANCE_URL", "FUNCTION_NAME"}, "horses": nil}
	for name, env := range want {
		f, ok := got.Function(name)
		if !ok {
			t.Fatalf("no function %s", name)
		}
		if diff := cmp.Diff(env, f.Env); diff != "" {
			t.Errorf("%s: Env (-want +got):\n%s", name, diff)
		}
	}
}

// loadText loads the template text tpl from a file of its own.
func loadText(t *testing.T, tpl string) *Template {
	t.Helper()
	file := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(file, []byte(tpl), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
