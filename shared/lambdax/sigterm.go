package lambdax

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

// sigtermExtension is the name under which aws-lambda-go registers its internal extension; Lambda sends
// SIGTERM to a function that has one.
const sigtermExtension = "GoLangEnableSIGTERM"

// RegisterForSIGTERM registers, in the background, the internal extension through which Lambda sends the
// function SIGTERM before it shuts the execution environment down: what lambda.WithEnableSIGTERM does at the
// start of lambda.Start, one round trip to the Extensions API, made here while the cold start builds its
// clients instead of after. wait returns when the registration is done; Lambda accepts it only during
// initialisation, so call wait before lambda.Start asks for the first event, and do not also pass
// lambda.WithEnableSIGTERM. api is AWS_LAMBDA_RUNTIME_API: empty (not in Lambda) registers nothing. A failed
// registration is logged and leaves the function without SIGTERM, as with aws-lambda-go. Install the
// handlers with OnSIGTERM.
func RegisterForSIGTERM(ctx context.Context, api string, log *slog.Logger) (wait func()) {
	if api == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
		base := "http://" + api + "/2020-01-01/extension/"
		id, err := registerExtension(ctx, client, base)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "lambdax: SIGTERM will not be delivered", slog.Any("error", err))
			return
		}
		// The extension subscribed to no event, so its poll for the next one never returns; Lambda wants it
		// made all the same, as the extension's "initialisation done".
		go func() {
			req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, base+"event/next", nil)
			if err != nil {
				return
			}
			req.Header.Set("Lambda-Extension-Identifier", id)
			if res, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		}()
	}()
	return func() { <-done }
}

// registerExtension registers the SIGTERM extension at the Extensions API base URL and returns its id.
func registerExtension(ctx context.Context, client *http.Client, base string) (string, error) {
	// The body aws-lambda-go sends: no events.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"register", bytes.NewReader([]byte(`{"events":null}`)))
	if err != nil {
		return "", fmt.Errorf("lambdax: register the SIGTERM extension: %w", err)
	}
	req.Header.Set("Lambda-Extension-Name", sigtermExtension)
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("lambdax: register the SIGTERM extension: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("lambdax: register the SIGTERM extension: %s", res.Status)
	}
	id := res.Header.Get("Lambda-Extension-Identifier")
	if id == "" {
		return "", errors.New("lambdax: register the SIGTERM extension: no Lambda-Extension-Identifier in the answer")
	}
	return id, nil
}

// OnSIGTERM runs fns, in order, when the process receives SIGTERM (the process then goes on until Lambda
// ends it), as lambda.WithEnableSIGTERM does.
func OnSIGTERM(fns ...func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		<-ch
		for _, f := range fns {
			f()
		}
	}()
}
