#!/usr/bin/env bash
# dev.sh runs the whole API locally: every function behind one HTTP server on
# http://127.0.0.1:${PORT:-3000}, with its SQS queues and schedules
# (go run ./infra/local/runner).
#
# It ensures PostgreSQL, Redis and the SQS server (services.sh up), creates the
# database corral if it is absent, exports the environment from services.sh env,
# and runs the runner in the foreground. When the runner ends (Ctrl-C), it stops
# the services that it started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SERVICES="$ROOT/infra/scripts/services.sh"

# This run's record of started services, apart from a `make test` running beside it.
export CORRAL_SESSION="dev-$$"

cleanup() { bash "$SERVICES" stop-started || true; }
trap cleanup EXIT
# Ctrl-C before the runner runs ends the script at once. While it runs, the runner (same process group)
# shuts down cleanly and exits 0, and bash then lets the script go on (it acts on a SIGINT only when its
# child died of it).
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$SERVICES" up
bash "$SERVICES" ensure-db
eval "$(bash "$SERVICES" env)"
export PORT="${PORT:-3000}"

printf 'corral: starting the local API on http://127.0.0.1:%s (Ctrl-C stops it)\n' "$PORT" >&2
# Built, then run (not go run, which exits 1 after a Ctrl-C whatever the runner did); not exec: the shell
# stays to stop the services afterwards.
mkdir -p "$ROOT/.local/bin"
go build -o "$ROOT/.local/bin/corral-runner" ./infra/local/runner
"$ROOT/.local/bin/corral-runner" "$@"
printf 'corral: local API stopped\n' >&2
