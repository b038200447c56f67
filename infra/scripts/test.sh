#!/usr/bin/env bash
# test.sh runs the Go tests against real local services.
#
# Usage: test.sh [packages...]   (default ./...; extra go test flags in GOTESTFLAGS)
#
# It ensures PostgreSQL, Redis, the SQS server and the DynamoDB server
# (services.sh up; their endpoints are exported as SQS_ENDPOINT and
# DYNAMODB_ENDPOINT), runs
# go test -race -shuffle=on -count=1, and on exit, also after a failure or an
# interrupt, drops the test databases left behind (corral_test_* clones and
# corral_tpl_* templates that no one is connected to) and stops the services it
# started. It exits with go test's status.
# shellcheck disable=SC2317 # cleanup and its helpers run from the EXIT trap.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SERVICES="$ROOT/infra/scripts/services.sh"

# This run's record of started services, apart from a `make dev` running beside it.
export CORRAL_SESSION="test-$$"

log() { printf 'corral: %s\n' "$*" >&2; }

# drop_test_databases drops leftover test databases. Without FORCE, a database
# still in use (by a test run beside this one) fails to drop and is kept.
drop_test_databases() {
  [[ -n "${CORRAL_TEST_ADMIN_URL:-}" ]] || return 0
  local db dropped=0
  while IFS= read -r db; do
    [[ -n "$db" ]] || continue
    local q="\"${db//\"/\"\"}\""
    # A template (corral_tpl_*) must stop being one before it can be dropped; if the drop fails because
    # another run is cloning from it, it becomes a template again.
    if psql -X -w -q -d "$CORRAL_TEST_ADMIN_URL" -c "ALTER DATABASE $q IS_TEMPLATE false" \
        -c "DROP DATABASE IF EXISTS $q" >/dev/null 2>&1; then
      dropped=$((dropped + 1))
    else
      if [[ "$db" == corral_tpl_* ]]; then
        psql -X -w -q -d "$CORRAL_TEST_ADMIN_URL" -c "ALTER DATABASE $q IS_TEMPLATE true" >/dev/null 2>&1 || true
      fi
      log "kept test database $db (in use)"
    fi
  done < <(psql -X -w -q -d "$CORRAL_TEST_ADMIN_URL" -tA -c \
    "SELECT datname FROM pg_database WHERE datname LIKE 'corral\_test\_%' OR datname LIKE 'corral\_tpl\_%'" 2>/dev/null || true)
  if ((dropped > 0)); then
    log "dropped $dropped leftover test database(s)"
  fi
  # The test roles go too, unless a database still uses them (make dev's corral, or a run beside this one).
  psql -X -w -q -d "$CORRAL_TEST_ADMIN_URL" -c "DROP ROLE IF EXISTS corral_app, corral_maint" >/dev/null 2>&1 || true
}

cleanup() {
  drop_test_databases || true
  bash "$SERVICES" stop-started || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$SERVICES" up
eval "$(bash "$SERVICES" env)"

if (($# == 0)); then
  set -- ./...
fi

rc=0
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags, split on purpose.
go test -race -shuffle=on -count=1 ${GOTESTFLAGS:-} "$@" || rc=$?
exit "$rc"
