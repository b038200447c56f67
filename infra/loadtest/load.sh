#!/usr/bin/env bash
# load.sh is `make load`: it builds the load generator (infra/loadtest/cmd/load), makes sure the local
# API runs (it reuses one that answers on 127.0.0.1:${PORT:-3000}, else it starts the local runner on a
# free port and stops it afterwards), seeds the load-test tenants, runs the scenario and writes its
# summary to .local/loadtest/<scenario>-<time>.json.
#
# Settings (environment):
#   SCENARIO=phase1|phase2|saturation  (default phase1)
#   VUS, DURATION (e.g. 10s)           override the scenario's defaults
#   LOGIN=token|password                token acquisition (default token: the dev signer)
#   WRITE=create|edit                   saturation's write route (default create)
#   REFERENCE=1                         phase1: run the same journey against the reference chain too, the
#                                       two alternating (A B B A; LOAD_FLAGS=-rounds N), and print both
#   LOAD_URL                            run against this API instead (saturation still starts the reference)
#   LOAD_PIDS                           label=pid,... of more processes whose CPU use to report
#   DATABASE_MAX_CONNS                  pool size of a runner (and reference) started here: saturation 2 for
#                                       both (one Lambda environment's pool); phase1/phase2 8 (see README)
#   LOAD_FLAGS                          more flags for the generator (see go run ./infra/loadtest/cmd/load -h)
#
# saturation always starts its own runner (never reuses one: it needs the load tenants' rate limits
# raised, see README.md) and the reference chain (infra/loadtest/cmd/reference) on free ports.
# Exit status: the generator's (phase1: 1 when the old system's bar is missed), 2 on a set-up failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SERVICES="$ROOT/infra/scripts/services.sh"
OUT="$ROOT/.local/loadtest"
BIN="$OUT/bin"
SCENARIO=${SCENARIO:-phase1}
export CORRAL_SESSION="load-$$"

log() { printf 'corral: %s\n' "$*" >&2; }

STARTED_PIDS=()
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
  local pid i
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  bash "$SERVICES" stop-started || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# http_ok succeeds when GET $1 answers 2xx.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null
  else
    local hostport=${1#http://}
    hostport=${hostport%%/*}
    (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" && printf 'GET /%s HTTP/1.0\r\n\r\n' "${1#http://*/}" >&3 &&
      head -n1 <&3 | grep -q ' 2[0-9][0-9] ') 2>/dev/null
  fi
}

# free_port prints a loopback port that nothing listens on.
free_port() {
  local p
  for ((p = 20000 + RANDOM % 20000; ; p++)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
}

# start NAME URL COMMAND...: start a server in the background (log in .local/loadtest/NAME.log) and wait
# until URL/health (or URL for the reference) answers.
start() {
  local name=$1 probe=$2
  shift 2
  "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  local i
  for ((i = 0; i < 1200; i++)); do
    if http_ok "$probe"; then
      log "$name is up (pid $pid, log .local/loadtest/$name.log)"
      printf '%s\n' "$pid" >"$OUT/$name.pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$OUT/$name.log" >&2; log "$name exited at start"; exit 2; }
    sleep 0.1
  done
  log "$name did not answer $probe within 120 s"
  exit 2
}

bash "$SERVICES" up
bash "$SERVICES" ensure-db
eval "$(bash "$SERVICES" env)"
mkdir -p "$BIN"
log "building the generator, the local runner and the reference chain"
go build -o "$BIN/load" ./infra/loadtest/cmd/load
go build -o "$BIN/runner" ./infra/local/runner
go build -o "$BIN/reference" ./infra/loadtest/cmd/reference

# Saturation compares two servers with one Lambda environment's pool each. The journeys stand one runner
# process in for the several Lambda environments 1,000 users keep busy (~1,000 req/s x ~5 ms each = about
# five environments of 2 connections): one pool of 2 would make 1,000 users queue for 2 connections.
if [[ "$SCENARIO" == saturation ]]; then
  export DATABASE_MAX_CONNS=${DATABASE_MAX_CONNS:-2}
else
  export DATABASE_MAX_CONNS=${DATABASE_MAX_CONNS:-8}
fi
args=(-scenario "$SCENARIO")
pids=()
URL=${LOAD_URL:-}
if [[ -z "$URL" && "$SCENARIO" != saturation ]] && http_ok "http://127.0.0.1:${PORT:-3000}/health"; then
  URL="http://127.0.0.1:${PORT:-3000}"
  log "using the local API already running on $URL"
fi
if [[ -z "$URL" ]]; then
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  overrides=${RATE_LIMIT_OVERRIDES:-}
  if [[ "$SCENARIO" == saturation ]]; then
    # The closed loop sends far more than a person's per-user limits: raise them for the load tenants
    # only. Every request still makes its Redis rate-limit call.
    high='{"horses.read":{"rate":6000000,"period":"1m","burst":100000},"horses.write":{"rate":6000000,"period":"1m","burst":100000}}'
    overrides="{\"10ad0000-0000-4000-8000-000000000001\":$high,\"10ad0000-0000-4000-8000-000000000002\":$high}"
  fi
  log "starting the local runner on $URL (DATABASE_MAX_CONNS=$DATABASE_MAX_CONNS)"
  events=on
  # Saturation measures one HTTP function against the reference: the queue consumers, separate Lambdas
  # in AWS, do not run in the runner meanwhile (the events are still sent to the queue).
  [[ "$SCENARIO" == saturation ]] && events=off
  PORT=$port RATE_LIMIT_OVERRIDES=$overrides CORRAL_RUNNER_EVENTS=$events start runner "$URL/health" "$BIN/runner"
  pids+=("runner=${STARTED_PIDS[-1]}")
fi
args+=(-url "$URL")
if [[ "$SCENARIO" == saturation ]]; then
  rport=$(free_port)
  # Same limits as the runner above.
  PORT=$rport start reference "http://127.0.0.1:$rport/health" "$BIN/reference" \
    -read-rate 6000000 -read-burst 100000 -write-rate 6000000 -write-burst 100000
  pids+=("reference=${STARTED_PIDS[-1]}")
  args+=(-reference-url "http://127.0.0.1:$rport")
elif [[ "$SCENARIO" == phase1 && "${REFERENCE:-}" == 1 ]]; then
  rport=$(free_port)
  # The production limits (the reference's defaults), as the runner applies them: the probe meets its 429.
  PORT=$rport start reference "http://127.0.0.1:$rport/health" "$BIN/reference"
  pids+=("reference=${STARTED_PIDS[-1]}")
  args+=(-reference-url "http://127.0.0.1:$rport")
fi
[[ -n "${VUS:-}" ]] && args+=(-vus "$VUS")
[[ -n "${DURATION:-}" ]] && args+=(-duration "$DURATION")
[[ -n "${LOGIN:-}" ]] && args+=(-login "$LOGIN")
[[ -n "${WRITE:-}" ]] && args+=(-write "$WRITE")
# More processes to report the CPU use of, e.g. LOAD_PIDS=runner=1234 with LOAD_URL.
[[ -n "${LOAD_PIDS:-}" ]] && pids+=("$LOAD_PIDS")
if ((${#pids[@]} > 0)); then
  args+=(-pids "$(IFS=,; printf '%s' "${pids[*]}")")
fi
rc=0
# shellcheck disable=SC2086 # LOAD_FLAGS is a list of flags, split on purpose.
"$BIN/load" "${args[@]}" ${LOAD_FLAGS:-} || rc=$?
exit "$rc"
