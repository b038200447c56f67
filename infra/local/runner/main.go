// Command runner is the local API that `make dev` starts: every function of template.yaml behind one HTTP
// server on 127.0.0.1:$PORT (default 3000), routed as API Gateway would, on the local Postgres and Redis;
// the template's queues on the local SQS server (SQS_ENDPOINT) polled for their consumers, with partial
// batch failures and redrive to the dead-letter queues; and every Schedule event fired on its rate or cron.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rocker-app/corral/shared/catalog"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/awsparts"
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
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogLevel, "local-runner")
	// Each function's logger replaces the function name with its own.
	deps, err := platform.NewDeps(ctx, cfg, logging.NewBase(os.Stdout, cfg.LogLevel), awsparts.All()...)
	if err != nil {
		return err
	}
	defer deps.Close()
	// The seed seals its personal data with the functions' own keys (NewDeps makes no connection).
	if err := localrun.Prepare(ctx, ownerURL, deps.Sealer, deps.BlindIndex); err != nil {
		return err
	}
	tpl, err := samtemplate.Load(tplPath)
	if err != nil {
		return err
	}
	// The functions' collector setting, as Lambda starts them with it (template.yaml, Globals).
	switch pct, ok, err := localrun.RunnerGCPercent(tpl, getenv); {
	case err != nil:
		return err
	case ok:
		debug.SetGCPercent(pct)
		log.Info("GOGC from template.yaml", "gogc", pct)
	}
	queues, err := localrun.SetupQueues(ctx, deps, tpl)
	if err != nil {
		return err
	}
	if queues == nil {
		log.Warn("SQS_ENDPOINT is not set: queues are not created and consumers are not polled")
	}
	srv, err := localrun.NewServer(tpl, deps, catalog.HTTP())
	if err != nil {
		return err
	}
	runner := &localrun.Runner{Template: tpl, Deps: deps, SQS: catalog.SQS(), Schedules: catalog.Schedules(), Queues: queues}
	// CORRAL_RUNNER_EVENTS=off serves the HTTP functions only: no queue polling, no schedules. The load
	// rig's saturation run uses it to stand for one Lambda environment of an HTTP function, which in AWS
	// shares its CPU with no queue consumer (messages sent meanwhile wait in their queues for the next run).
	if env("CORRAL_RUNNER_EVENTS") == "off" {
		log.Warn("CORRAL_RUNNER_EVENTS=off: queue consumers and schedules do not run")
		runner = &localrun.Runner{Template: &samtemplate.Template{}, Deps: deps}
	}
	port := env("PORT")
	if port == "" {
		port = "3000"
	}
	hs := &http.Server{Addr: "127.0.0.1:" + port, Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	if addr := env("CORRAL_PPROF_ADDR"); addr != "" {
		servePprof(addr, log)
	}
	// The server and the runner stop together: when ctx ends (Ctrl-C), or when either fails.
	ctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	errc := make(chan error, 1)
	go func() {
		errc <- hs.ListenAndServe()
		stopAll()
	}()
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		// Run returns at once (nil) when no function has queue or schedule events.
		if runErr = runner.Run(ctx); runErr != nil {
			stopAll()
		}
	}()
	routes, consumers, schedules := 0, 0, 0
	for _, f := range tpl.Functions {
		routes += len(f.Routes)
		consumers += len(f.SQS)
		schedules += len(f.Schedules)
	}
	log.Info("local API listening", "url", "http://127.0.0.1:"+port, "functions", len(tpl.Functions), "routes", routes,
		"queues", len(queues), "consumers", consumers, "schedules", schedules, "token", "make token EMAIL=owner@sunrise.test")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutErr := hs.Shutdown(shutdown)
	// The runner returns once the batches and scheduled runs in flight have finished.
	<-runDone
	serveErr := <-errc
	switch {
	case runErr != nil:
		return runErr
	case serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed):
		return serveErr
	case shutErr != nil:
		return shutErr
	}
	return nil
}

// servePprof serves net/http/pprof on addr (CORRAL_PPROF_ADDR, e.g. 127.0.0.1:6060) for profiling the
// runner under load; it is off unless that variable is set, and never part of a deployment.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil {
			log.Warn("pprof server stopped", "error", err)
		}
	}()
	log.Info("pprof listening", "url", "http://"+addr+"/debug/pprof/")
}
