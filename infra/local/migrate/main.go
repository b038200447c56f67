// Command migrate applies or reverts the migrations on DATABASE_OWNER_URL (default: the local corral
// database as postgres): `migrate up`, `migrate down` (all the way), `migrate steps N` (N may be negative).
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"

	"github.com/rocker-app/corral/shared/localrun"
	"github.com/rocker-app/corral/shared/postgres/schema"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv); err != nil {
		slog.Error("migrate", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	url := getenv("DATABASE_OWNER_URL")
	if url == "" {
		url = localrun.DefaultOwnerURL
	}
	if len(args) == 0 {
		return errors.New("usage: migrate up | down | steps N")
	}
	switch args[0] {
	case "up":
		return schema.Up(ctx, url)
	case "down":
		return schema.Down(ctx, url)
	case "steps":
		if len(args) != 2 {
			return errors.New("usage: migrate steps N")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		return schema.Steps(ctx, url, n)
	default:
		return errors.New("usage: migrate up | down | steps N")
	}
}
