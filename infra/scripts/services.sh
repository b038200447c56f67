#!/usr/bin/env bash
# services.sh ensures the local services the Corral backend needs: PostgreSQL,
# Redis, an SQS API server (the npm package fauxqs) and a DynamoDB API server
# (the npm package dynalite, for the DynamoDB idempotency store). It starts only what is
# installed but not running, records what it started, and can stop exactly that.
#
# Usage:
#   services.sh up            ensure all four are reachable (progress on stderr)
#   services.sh env           print `export` lines for the tests, the runner and tools
#   services.sh ensure-db     create database corral (owned by the superuser) if absent
#   services.sh stop-started  stop what `up` started in this session, nothing else
#
# Settings (with their defaults):
#   CORRAL_PG_HOST=127.0.0.1  CORRAL_PG_PORT=5432
#   CORRAL_PG_SUPERUSER       tried first when set; then postgres, then root
#   CORRAL_REDIS_URL=redis://127.0.0.1:6379/0
#   SQS_ENDPOINT              used as is when set and it answers; else a local fauxqs
#   DYNAMODB_ENDPOINT         used as is when set and it answers; else a local dynalite
#   CORRAL_SESSION=default    names the record of started services, so that one
#                             session's stop-started leaves another's services alone
#
# Exit status: 0 on success; 1 with one line "corral: ..." on stderr when a
# service is neither reachable nor installed, or does not come up in time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL="$ROOT/.local"
STARTED="$LOCAL/started/${CORRAL_SESSION:-default}"

PG_HOST=${CORRAL_PG_HOST:-127.0.0.1}
PG_PORT=${CORRAL_PG_PORT:-5432}
REDIS=${CORRAL_REDIS_URL:-redis://127.0.0.1:6379/0}

FAUXQS_VERSION=1.9.2
FAUXQS_PREFIX="$LOCAL/fauxqs"
FAUXQS_PID="$LOCAL/fauxqs.pid"
FAUXQS_PORT="$LOCAL/fauxqs.port"
FAUXQS_LOG="$LOCAL/fauxqs.log"

# dynalite, not Amazon's DynamoDB Local: DynamoDB Local is under Amazon's own licence
# (not an open-source one) and its npm wrappers download it at install time;
# dynalite is Apache-2.0, pure Node, and keeps its tables in memory here.
DYNALITE_VERSION=4.0.0
DYNALITE_PREFIX="$LOCAL/dynalite"
DYNALITE_PID="$LOCAL/dynalite.pid"
DYNALITE_PORT="$LOCAL/dynalite.port"
DYNALITE_LOG="$LOCAL/dynalite.log"

# How long to wait for a service to come up, in tenths of a second.
WAIT_TENTHS=300

export PGCONNECT_TIMEOUT=5

log() { printf 'corral: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

is_loopback() {
  case "$1" in
    127.* | localhost | ::1 | '[::1]') return 0 ;;
    *) return 1 ;;
  esac
}

# url_host formats a host for a URL (brackets around IPv6 literals).
url_host() {
  local h=${1#\[}
  h=${h%\]}
  case "$h" in
    *:*) printf '[%s]' "$h" ;;
    *) printf '%s' "$h" ;;
  esac
}

record_started() {
  mkdir -p "$STARTED"
  printf '%s\n' "$2" >"$STARTED/$1"
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() {
  if have pg_isready; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
  fi
}

# pg_cluster prints "<version> <cluster>" of the local cluster configured on
# PG_PORT, or nothing.
pg_cluster() {
  have pg_lsclusters || return 0
  pg_lsclusters --no-header 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

pg_up() {
  if pg_ready; then
    return 0
  fi
  if ! is_loopback "$PG_HOST" || ! have pg_ctlcluster || [[ ! -d /etc/postgresql ]] ||
    [[ -z "$(ls -A /etc/postgresql 2>/dev/null)" ]]; then
    die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT and not installed; install it with: apt-get install -y postgresql"
  fi
  local cluster
  cluster=$(pg_cluster)
  if [[ -z "$cluster" ]]; then
    die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT and no local cluster uses port $PG_PORT (see pg_lsclusters); set CORRAL_PG_PORT"
  fi
  local ver name status
  read -r ver name <<<"$cluster"
  status=$(pg_lsclusters --no-header "$ver" "$name" 2>/dev/null | awk '{ print $4 }')
  if [[ "$status" != online* ]]; then
    log "starting PostgreSQL $ver/$name on port $PG_PORT"
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 ||
      die "could not start PostgreSQL $ver/$name; see its log under /var/log/postgresql"
    record_started postgresql "$ver $name"
  fi
  local i
  for ((i = 0; i < WAIT_TENTHS; i++)); do
    pg_ready && return 0
    sleep 0.1
  done
  die "PostgreSQL did not become ready at $PG_HOST:$PG_PORT within $((WAIT_TENTHS / 10))s"
}

# pg_superuser prints the first role among CORRAL_PG_SUPERUSER, postgres and
# root that can log in without a password prompt and is a superuser.
pg_superuser() {
  have psql || die "psql is not installed; install it with: apt-get install -y postgresql-client"
  local user
  for user in ${CORRAL_PG_SUPERUSER:-} postgres root; do
    if [[ "$(psql -X -w -q -h "$PG_HOST" -p "$PG_PORT" -U "$user" -d postgres -tAc \
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null)" == t ]]; then
      printf '%s\n' "$user"
      return 0
    fi
  done
  die "no PostgreSQL superuser at $PG_HOST:$PG_PORT (tried ${CORRAL_PG_SUPERUSER:+$CORRAL_PG_SUPERUSER, }postgres, root); set CORRAL_PG_SUPERUSER"
}

pg_url() { # user database
  printf 'postgres://%s@%s:%s/%s?sslmode=disable' "$1" "$(url_host "$PG_HOST")" "$PG_PORT" "$2"
}

ensure_db() {
  local su exists
  su=$(pg_superuser)
  exists=$(psql -X -w -q -d "$(pg_url "$su" postgres)" -tAc "SELECT 1 FROM pg_database WHERE datname = 'corral'")
  if [[ "$exists" != 1 ]]; then
    log "creating database corral (owner $su)"
    psql -X -w -q -d "$(pg_url "$su" postgres)" -c 'CREATE DATABASE corral' >&2
  fi
}

# --------------------------------------------------------------------- Redis

# REDIS is redis://[user:password@]host[:port][/db]; these pick it apart.
redis_hostport() {
  local rest=${REDIS#*://}
  rest=${rest%%/*}
  printf '%s' "${rest##*@}"
}
redis_host() {
  local hp
  hp=$(redis_hostport)
  case "$hp" in
    \[*\]*)
      hp=${hp#\[}
      printf '%s' "${hp%%\]*}"
      ;;
    *) printf '%s' "${hp%%:*}" ;;
  esac
}
redis_port() {
  local hp
  hp=$(redis_hostport)
  case "$hp" in
    *\]:*) printf '%s' "${hp##*]:}" ;;
    \[*) printf 6379 ;;
    *:*) printf '%s' "${hp##*:}" ;;
    *) printf 6379 ;;
  esac
}

redis_ready() {
  [[ "$(redis-cli -u "$REDIS" ping 2>/dev/null)" == PONG ]]
}

redis_up() {
  if have redis-cli && redis_ready; then
    return 0
  fi
  local host port
  host=$(redis_host)
  port=$(redis_port)
  if ! is_loopback "$host" || ! have redis-server || ! have redis-cli; then
    die "Redis is not reachable at $REDIS and not installed; install it with: apt-get install -y redis-server"
  fi
  local dir=/var/lib/redis logdir=/var/log/redis
  if ! mkdir -p "$dir" "$logdir" 2>/dev/null || [[ ! -w "$dir" || ! -w "$logdir" ]]; then
    dir="$LOCAL/redis" logdir="$LOCAL/redis"
    mkdir -p "$dir"
  fi
  local logfile="$logdir/ci.log"
  [[ "$port" == 6379 ]] || logfile="$logdir/ci-$port.log"
  log "starting Redis on 127.0.0.1:$port"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
    --dir "$dir" --logfile "$logfile" >&2
  record_started redis "$REDIS"
  local i
  for ((i = 0; i < WAIT_TENTHS; i++)); do
    redis_ready && return 0
    sleep 0.1
  done
  die "Redis did not answer PING at $REDIS within $((WAIT_TENTHS / 10))s (log: $logfile)"
}

# ----------------------------------------------------------------------- SQS

# sqs_answers succeeds when $1 answers an SQS ListQueues call (AWS JSON protocol).
sqs_answers() {
  local endpoint=${1%/}
  if have curl; then
    curl -fsS -m 3 -o /dev/null -X POST \
      -H 'Content-Type: application/x-amz-json-1.0' \
      -H 'X-Amz-Target: AmazonSQS.ListQueues' \
      --data '{}' "$endpoint/" 2>/dev/null
  elif have node; then
    node -e '
      fetch(process.argv[1] + "/", {
        method: "POST",
        headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ListQueues" },
        body: "{}", signal: AbortSignal.timeout(3000),
      }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
    ' "$endpoint"
  else
    return 1
  fi
}

# fauxqs_pid prints the pid of our running fauxqs, or fails.
fauxqs_pid() {
  local pid
  [[ -f "$FAUXQS_PID" ]] || return 1
  pid=$(<"$FAUXQS_PID")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'fauxqs\.mjs' || return 1
  printf '%s\n' "$pid"
}

# local_sqs_endpoint prints the endpoint of our running fauxqs, or fails.
local_sqs_endpoint() {
  fauxqs_pid >/dev/null || return 1
  [[ -f "$FAUXQS_PORT" ]] || return 1
  local endpoint
  endpoint="http://127.0.0.1:$(<"$FAUXQS_PORT")"
  sqs_answers "$endpoint" || return 1
  printf '%s\n' "$endpoint"
}

# sqs_endpoint prints the SQS endpoint to use: SQS_ENDPOINT when it answers,
# else our running fauxqs; it fails when neither answers.
sqs_endpoint() {
  if [[ -n "${SQS_ENDPOINT:-}" ]] && sqs_answers "$SQS_ENDPOINT"; then
    printf '%s\n' "${SQS_ENDPOINT%/}"
    return 0
  fi
  local_sqs_endpoint
}

fauxqs_install() {
  local pkg="$FAUXQS_PREFIX/node_modules/fauxqs/package.json"
  if [[ -f "$pkg" ]] && grep -q "\"version\": \"$FAUXQS_VERSION\"" "$pkg"; then
    return 0
  fi
  have npm || die "npm is not installed; install it with: apt-get install -y nodejs npm"
  log "installing fauxqs@$FAUXQS_VERSION into .local/fauxqs"
  mkdir -p "$FAUXQS_PREFIX"
  npm install --no-audit --no-fund --loglevel=error --prefix "$FAUXQS_PREFIX" "fauxqs@$FAUXQS_VERSION" >&2 </dev/null
}

sqs_up() {
  if [[ -n "${SQS_ENDPOINT:-}" ]]; then
    if sqs_answers "$SQS_ENDPOINT"; then
      return 0
    fi
    log "SQS_ENDPOINT=$SQS_ENDPOINT does not answer; using a local SQS server instead"
  fi
  if local_sqs_endpoint >/dev/null; then
    return 0
  fi
  have node || die "Node.js is not installed, needed for the local SQS server; install it with: apt-get install -y nodejs npm"
  fauxqs_install
  mkdir -p "$LOCAL"
  rm -f "$FAUXQS_PORT" "$FAUXQS_PID"
  log "starting the SQS server (fauxqs@$FAUXQS_VERSION), log in .local/fauxqs.log"
  # setsid: its own session, so a Ctrl-C meant for a caller does not reach it;
  # stop-started stops it.
  FAUXQS_PREFIX="$FAUXQS_PREFIX" FAUXQS_PORT_FILE="$FAUXQS_PORT" FAUXQS_PID_FILE="$FAUXQS_PID" \
    FAUXQS_LISTEN_HOST=127.0.0.1 FAUXQS_LISTEN_PORT=0 \
    setsid node "$ROOT/infra/scripts/fauxqs.mjs" </dev/null >>"$FAUXQS_LOG" 2>&1 &
  local launched=$!
  local i endpoint
  for ((i = 0; i < WAIT_TENTHS; i++)); do
    if [[ -f "$FAUXQS_PORT" && -f "$FAUXQS_PID" ]]; then
      record_started fauxqs "$(<"$FAUXQS_PID")"
      if endpoint=$(local_sqs_endpoint); then
        log "SQS server listening on $endpoint"
        return 0
      fi
    fi
    if ! kill -0 "$launched" 2>/dev/null && [[ ! -f "$FAUXQS_PID" ]]; then
      tail -n 20 "$FAUXQS_LOG" >&2 || true
      die "the SQS server exited at start; see .local/fauxqs.log"
    fi
    sleep 0.1
  done
  die "the SQS server did not answer within $((WAIT_TENTHS / 10))s; see .local/fauxqs.log"
}

# ------------------------------------------------------------------ DynamoDB

# dynamo_answers succeeds when $1 answers a DynamoDB ListTables call. Local
# servers check that a request is signed, not the signature: a dummy one does.
dynamo_answers() {
  local endpoint=${1%/}
  local -a headers=(
    'Content-Type: application/x-amz-json-1.0'
    'X-Amz-Target: DynamoDB_20120810.ListTables'
    'X-Amz-Date: 20200101T000000Z'
    'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'
  )
  if have curl; then
    local -a args=()
    local h
    for h in "${headers[@]}"; do
      args+=(-H "$h")
    done
    curl -fsS -m 3 -o /dev/null -X POST "${args[@]}" --data '{}' "$endpoint/" 2>/dev/null
  elif have node; then
    node -e '
      const headers = Object.fromEntries(process.argv.slice(2).map((h) => h.split(/: (.*)/s).slice(0, 2)));
      fetch(process.argv[1] + "/", { method: "POST", headers, body: "{}", signal: AbortSignal.timeout(3000) })
        .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
    ' "$endpoint" "${headers[@]}"
  else
    return 1
  fi
}

# dynalite_pid prints the pid of our running dynalite, or fails.
dynalite_pid() {
  local pid
  [[ -f "$DYNALITE_PID" ]] || return 1
  pid=$(<"$DYNALITE_PID")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'dynalite\.mjs' || return 1
  printf '%s\n' "$pid"
}

# local_dynamo_endpoint prints the endpoint of our running dynalite, or fails.
local_dynamo_endpoint() {
  dynalite_pid >/dev/null || return 1
  [[ -f "$DYNALITE_PORT" ]] || return 1
  local endpoint
  endpoint="http://127.0.0.1:$(<"$DYNALITE_PORT")"
  dynamo_answers "$endpoint" || return 1
  printf '%s\n' "$endpoint"
}

# dynamo_endpoint prints the DynamoDB endpoint to use: DYNAMODB_ENDPOINT when
# it answers, else our running dynalite; it fails when neither answers.
dynamo_endpoint() {
  if [[ -n "${DYNAMODB_ENDPOINT:-}" ]] && dynamo_answers "$DYNAMODB_ENDPOINT"; then
    printf '%s\n' "${DYNAMODB_ENDPOINT%/}"
    return 0
  fi
  local_dynamo_endpoint
}

dynalite_install() {
  local pkg="$DYNALITE_PREFIX/node_modules/dynalite/package.json"
  if [[ -f "$pkg" ]] && grep -q "\"version\": \"$DYNALITE_VERSION\"" "$pkg"; then
    return 0
  fi
  have npm || die "npm is not installed, needed for the local DynamoDB server; install it with: apt-get install -y nodejs npm"
  log "installing dynalite@$DYNALITE_VERSION into .local/dynalite"
  mkdir -p "$DYNALITE_PREFIX"
  npm install --no-audit --no-fund --loglevel=error --prefix "$DYNALITE_PREFIX" "dynalite@$DYNALITE_VERSION" >&2 </dev/null
}

dynamo_up() {
  if [[ -n "${DYNAMODB_ENDPOINT:-}" ]]; then
    if dynamo_answers "$DYNAMODB_ENDPOINT"; then
      return 0
    fi
    log "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT does not answer; using a local DynamoDB server instead"
  fi
  if local_dynamo_endpoint >/dev/null; then
    return 0
  fi
  have node || die "Node.js is not installed, needed for the local DynamoDB server; install it with: apt-get install -y nodejs npm"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  ((major >= 20)) || die "Node.js $(node --version 2>/dev/null) is too old for the local DynamoDB server (dynalite needs 20 or later)"
  dynalite_install
  mkdir -p "$LOCAL"
  rm -f "$DYNALITE_PORT" "$DYNALITE_PID"
  log "starting the DynamoDB server (dynalite@$DYNALITE_VERSION), log in .local/dynalite.log"
  # setsid: its own session, so a Ctrl-C meant for a caller does not reach it;
  # stop-started stops it.
  DYNALITE_PREFIX="$DYNALITE_PREFIX" DYNALITE_PORT_FILE="$DYNALITE_PORT" DYNALITE_PID_FILE="$DYNALITE_PID" \
    DYNALITE_LISTEN_HOST=127.0.0.1 DYNALITE_LISTEN_PORT=0 \
    setsid node "$ROOT/infra/scripts/dynalite.mjs" </dev/null >>"$DYNALITE_LOG" 2>&1 &
  local launched=$!
  local i endpoint
  for ((i = 0; i < WAIT_TENTHS; i++)); do
    if [[ -f "$DYNALITE_PORT" && -f "$DYNALITE_PID" ]]; then
      record_started dynalite "$(<"$DYNALITE_PID")"
      if endpoint=$(local_dynamo_endpoint); then
        log "DynamoDB server listening on $endpoint"
        return 0
      fi
    fi
    if ! kill -0 "$launched" 2>/dev/null && [[ ! -f "$DYNALITE_PID" ]]; then
      tail -n 20 "$DYNALITE_LOG" >&2 || true
      die "the DynamoDB server exited at start; see .local/dynalite.log"
    fi
    sleep 0.1
  done
  die "the DynamoDB server did not answer within $((WAIT_TENTHS / 10))s; see .local/dynalite.log"
}

# --------------------------------------------------------------- subcommands

# q single-quotes a value for the shell.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

print_env() {
  pg_ready || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT; run: bash infra/scripts/services.sh up"
  local su sqs dynamo
  su=$(pg_superuser)
  sqs=$(sqs_endpoint) || die "no SQS server answers; run: bash infra/scripts/services.sh up"
  dynamo=$(dynamo_endpoint) || die "no DynamoDB server answers; run: bash infra/scripts/services.sh up"
  local -a vars=(
    CORRAL_TEST_ADMIN_URL "$(pg_url "$su" postgres)"
    CORRAL_TEST_REDIS_URL "$REDIS"
    SQS_ENDPOINT "$sqs"
    DYNAMODB_ENDPOINT "$dynamo"
    DATABASE_URL "$(pg_url corral_app corral)"
    DATABASE_OWNER_URL "$(pg_url "$su" corral)"
    REDIS_URL "$REDIS"
    AWS_REGION us-east-1
    # Local only: the SDK needs some credentials; fauxqs and dynalite accept any.
    AWS_ACCESS_KEY_ID local
    AWS_SECRET_ACCESS_KEY local
  )
  local i
  for ((i = 0; i < ${#vars[@]}; i += 2)); do
    printf 'export %s=%s\n' "${vars[i]}" "$(q "${vars[i + 1]}")"
  done
}

stop_started() {
  [[ -d "$STARTED" ]] || return 0
  local f name what
  for f in "$STARTED"/*; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f")
    what=$(<"$f")
    case "$name" in
      fauxqs)
        local pid i
        if pid=$(fauxqs_pid) && [[ "$pid" == "$what" ]]; then
          log "stopping the SQS server (pid $pid)"
          kill "$pid" 2>/dev/null || true
          for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
          done
          kill -9 "$pid" 2>/dev/null || true
          rm -f "$FAUXQS_PID" "$FAUXQS_PORT"
        fi
        ;;
      dynalite)
        local dpid j
        if dpid=$(dynalite_pid) && [[ "$dpid" == "$what" ]]; then
          log "stopping the DynamoDB server (pid $dpid)"
          kill "$dpid" 2>/dev/null || true
          for ((j = 0; j < 100; j++)); do
            kill -0 "$dpid" 2>/dev/null || break
            sleep 0.1
          done
          kill -9 "$dpid" 2>/dev/null || true
          rm -f "$DYNALITE_PID" "$DYNALITE_PORT"
        fi
        ;;
      redis)
        log "stopping Redis at $what"
        redis-cli -u "$what" shutdown nosave >/dev/null 2>&1 || true
        ;;
      postgresql)
        local ver cluster
        read -r ver cluster <<<"$what"
        log "stopping PostgreSQL $ver/$cluster"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" stop >&2 || true
        ;;
      *) log "unknown record $f; ignored" ;;
    esac
    rm -f "$f"
  done
  rmdir "$STARTED" 2>/dev/null || true
}

usage() {
  echo "usage: $(basename "$0") up|env|ensure-db|stop-started" >&2
  exit 2
}

main() {
  [[ $# -eq 1 ]] || usage
  case "$1" in
    up)
      pg_up
      redis_up
      sqs_up
      dynamo_up
      ;;
    env) print_env ;;
    ensure-db) ensure_db ;;
    stop-started) stop_started ;;
    *) usage ;;
  esac
}

main "$@"
