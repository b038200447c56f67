// Command reference serves the reference chain (infra/loadtest/reference) on 127.0.0.1:$PORT, with the
// local database (DATABASE_URL, as corral_app; DATABASE_MAX_CONNS connections, default 2 like Corral),
// Redis (REDIS_URL; pool and timeouts like Corral's) and the development token key in
// .local/dev-signing-key.pem. `make load SCENARIO=saturation` starts it beside the API.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rocker-app/corral/infra/loadtest/reference"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/samtemplate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		slog.Error("reference", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("reference", flag.ContinueOnError)
	readRate := fs.Int("read-rate", 300, "reads per minute per user")
	readBurst := fs.Int("read-burst", 60, "read burst per user")
	writeRate := fs.Int("write-rate", 60, "writes per minute per user")
	writeBurst := fs.Int("write-burst", 20, "write burst per user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	port := getenv("PORT")
	if port == "" {
		port = "3001"
	}
	conns := 2
	if v := getenv("DATABASE_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errors.New("DATABASE_MAX_CONNS must be a positive whole number")
		}
		conns = n
	}
	tpl, err := samtemplate.Find(".")
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(filepath.Join(filepath.Dir(tpl), ".local", "dev-signing-key.pem"))
	if err != nil {
		return err
	}
	key, err := auth.ParseSigningKeyPEM(pem)
	if err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	pcfg.MaxConns = int32(conns)
	db, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ropts, err := redis.ParseURL(getenv("REDIS_URL"))
	if err != nil {
		return err
	}
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = 500*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	ropts.PoolSize = 4
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	srv := reference.New(reference.Config{
		DB: db, Redis: rdb, Key: &key.PublicKey, Issuer: localrun.DevIssuer, Audience: localrun.DevAudience,
		Read:  redis_rate.Limit{Rate: *readRate, Period: time.Minute, Burst: *readBurst},
		Write: redis_rate.Limit{Rate: *writeRate, Period: time.Minute, Burst: *writeBurst},
	})
	hs := &http.Server{Addr: "127.0.0.1:" + port, Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	slog.Info("reference listening", "url", "http://127.0.0.1:"+port, "db_conns", conns)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}
