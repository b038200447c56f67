package lambdax_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/infra/local/runtimeapi"
	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/syncbuf"
)

// runtimeAPI serves a local Lambda Runtime API and returns it with its address (AWS_LAMBDA_RUNTIME_API).
func runtimeAPI(t *testing.T) (*runtimeapi.Server, string) {
	t.Helper()
	s := runtimeapi.New(runtimeapi.Options{})
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, strings.TrimPrefix(hs.URL, "http://")
}

func TestRegisterForSIGTERMDuringInit(t *testing.T) {
	t.Parallel()
	api, addr := runtimeAPI(t)
	var logs syncbuf.Buffer
	lambdax.RegisterForSIGTERM(context.Background(), addr, slog.New(slog.NewTextHandler(&logs, nil)))()
	if got := api.Extensions(); !slices.Equal(got, []string{"GoLangEnableSIGTERM"}) {
		t.Errorf("extensions = %q, want the SIGTERM extension", got)
	}
	// Its poll for the next event, with the identifier it was given, follows in the background.
	for deadline := time.Now().Add(5 * time.Second); api.ExtensionPolls() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("extension polls = %d, want 1", api.ExtensionPolls())
		}
	}
	if logs.String() != "" {
		t.Errorf("log: %s", logs.String())
	}
}

// Lambda refuses a registration once the runtime has asked for its first event: the function then runs
// without SIGTERM, and says so.
func TestRegisterForSIGTERMTooLate(t *testing.T) {
	t.Parallel()
	api, addr := runtimeAPI(t)
	go func() {
		if resp, err := http.Get("http://" + addr + "/2018-06-01/runtime/invocation/next"); err == nil {
			resp.Body.Close()
		}
	}()
	<-api.Ready()
	var logs syncbuf.Buffer
	lambdax.RegisterForSIGTERM(context.Background(), addr, slog.New(slog.NewTextHandler(&logs, nil)))()
	if got := api.Extensions(); len(got) != 0 {
		t.Errorf("extensions = %q, want none", got)
	}
	if !strings.Contains(logs.String(), "SIGTERM will not be delivered") || !strings.Contains(logs.String(), "403") {
		t.Errorf("log %q, want the refusal", logs.String())
	}
}

// Outside Lambda there is nothing to register with.
func TestRegisterForSIGTERMOutsideLambda(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	lambdax.RegisterForSIGTERM(context.Background(), "", slog.New(slog.NewTextHandler(&logs, nil)))()
	if logs.String() != "" {
		t.Errorf("log: %s", logs.String())
	}
}
