// Command runner is the local API that `make dev` starts: every function of template.yaml behind one HTTP
// server on 127.0.0.1:$PORT (default 3000), routed as API Gateway would, on the local Postgres and Redis.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		slog.Error("local runner stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	tplPath, err := samtemplate.Find(".")
	if err != nil {
		return err
	}
	root := filepath.Dir(tplPath)
	signer, err := localrun.DevSigner(filepath.Join(root, ".local"))
	if err != nil {
		return err
	}
	env, err := localrun.DevEnv(getenv, signer)
	if err != nil {
		return err
	}
	ownerURL := env("DATABASE_OWNER_URL")
	if ownerURL == "" {
		ownerURL = localrun.DefaultOwnerURL
	}
	if err := localrun.Prepare(ctx, ownerURL); err != nil {
		return err
	}
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogLevel, "local-runner")
	// Each function's logger replaces the function name with its own.
	deps, err := platform.NewDeps(ctx, cfg, slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel})))
	if err != nil {
		return err
	}
	defer deps.Close()
	tpl, err := samtemplate.Load(tplPath)
	if err != nil {
		return err
	}
	srv, err := localrun.NewServer(tpl, deps, catalog.HTTP())
	if err != nil {
		return err
	}
	port := env("PORT")
	if port == "" {
		port = "3000"
	}
	hs := &http.Server{Addr: "127.0.0.1:" + port, Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	routes := 0
	for _, f := range tpl.Functions {
		routes += len(f.Routes)
	}
	log.Info("local API listening", "url", "http://127.0.0.1:"+port, "functions", len(tpl.Functions), "routes", routes,
		"token", "make token EMAIL=owner@sunrise.test")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
