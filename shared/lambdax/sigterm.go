package lambdax

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
		id, err := registerExtension(ctx, api)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "lambdax: SIGTERM will not be delivered", slog.Any("error", err))
			return
		}
		// The extension subscribed to no event, so its poll for the next one never returns; Lambda wants it
		// made all the same, as the extension's "initialisation done". The connection stays open for the
		// life of the process.
		go func() { _ = pollNever(context.WithoutCancel(ctx), api, id) }()
	}()
	return func() { <-done }
}

// The Extensions API is plain HTTP/1.1 on a local address. The two requests of the SIGTERM extension are
// written by hand on a connection of their own: with an http.Client the registration took ~2.1 ms of a
// cold start here, by hand ~1.1 ms (the client's first-request code and goroutines), and it is on the path
// to the first event (Lambda accepts it only before the runtime asks for one), while the runtime's own
// client pays its first request anyway, after.
const (
	registerRequest = "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: %s\r\nLambda-Extension-Name: " + sigtermExtension +
		"\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"events\":null}" // the body aws-lambda-go sends
	nextRequest = "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: %s\r\nLambda-Extension-Identifier: %s\r\n\r\n"
)

// registerExtension registers the SIGTERM extension at the Extensions API on api (host:port) and returns
// its id.
func registerExtension(ctx context.Context, api string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", api)
	if err != nil {
		return "", fmt.Errorf("lambdax: register the SIGTERM extension: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, registerRequest, api); err != nil {
		return "", fmt.Errorf("lambdax: register the SIGTERM extension: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
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

// pollNever sends the extension's request for its next event on a connection of its own and waits for the
// answer, which for an extension subscribed to nothing comes only when the environment shuts down.
func pollNever(ctx context.Context, api, id string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", api)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, nextRequest, api, id); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, conn)
	return err
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
