# Corral developer tasks. `make` lists them; `make dev` and `make test` do all the set-up.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
SERVICES := bash infra/scripts/services.sh
# Ensure the local services and database corral, then export their settings.
WITH_ENV := $(SERVICES) up && $(SERVICES) ensure-db && eval "$$($(SERVICES) env)" &&

# Lambda binaries: static, arm64, for the provided.al2023 runtime.
LAMBDA_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'
FUNCTIONS := $(patsubst functions/%/,%,$(wildcard functions/*/))

# Packages for `make test`, e.g. make test PKGS=./shared/...
PKGS ?= ./...

# `make bench`: the middleware pieces (JWT, rate limit, idempotency, problems, cursors, the whole chain).
BENCH ?= Verify|Allow|Cursor|WriteError|Chain|Idempotency
BENCH_COUNT ?= 6
BENCH_PKGS ?= ./shared/auth/ ./shared/ratelimit/ ./shared/httpapi/ ./shared/postgres/ ./shared/dynamo/ ./shared/platform/ ./shared/catalog/

.PHONY: help dev test bench lint vuln fmt build migrate-up migrate-down invoke token jwks stop clean load coldstart

help: ## List the targets
	@echo 'usage: make <target> [VAR=value]'
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_%-]+:.*## / { printf "  %-22s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

dev: ## Run the local API on http://127.0.0.1:3000 (PORT=...) with every function, queue and schedule
	bash infra/scripts/dev.sh

test: ## Run all tests with -race -shuffle=on against local services (PKGS=..., GOTESTFLAGS=...)
	bash infra/scripts/test.sh $(PKGS)

bench: ## Benchmark the middleware pieces against local services, -benchmem, into .local/bench/<time>.txt for benchstat (BENCH_COUNT=6, BENCH=..., BENCH_PKGS=...)
	@mkdir -p .local/bench
	@out=".local/bench/$$(date -u +%Y%m%dT%H%M%SZ).txt"; \
	export CORRAL_SESSION="bench-$$$$"; \
	trap '$(SERVICES) stop-started' EXIT; \
	$(SERVICES) up; \
	eval "$$($(SERVICES) env)"; \
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count '$(BENCH_COUNT)' $(BENCH_PKGS) | tee "$$out"; \
	echo "corral: results in $$out; compare two runs with benchstat (golang.org/x/perf/cmd/benchstat) old.txt new.txt" >&2

lint: ## go vet and staticcheck
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

vuln: ## Check dependencies for known vulnerabilities (govulncheck; needs vuln.go.dev, or GOVULNDB=file:///mirror)
	$(GO) tool govulncheck $${GOVULNDB:+-db "$$GOVULNDB"} ./...

fmt: ## Format the Go code
	$(GO) fmt ./...

build: ## Build every function in functions/ into build/<name>/bootstrap (linux/arm64)
	@test -n "$(FUNCTIONS)" || { echo 'no functions in functions/' >&2; exit 1; }
	@for fn in $(FUNCTIONS); do \
		echo "build/$$fn/bootstrap"; \
		$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "build/$$fn/bootstrap" "./functions/$$fn"; \
	done

# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set;
# EntityLookupFunction builds ./functions/entity-lookup.
build-%Function: ## Build one function for sam build (ARTIFACTS_DIR=...)
	@test -n "$(ARTIFACTS_DIR)" || { echo 'ARTIFACTS_DIR is required' >&2; exit 2; }
	@dir=$$(printf '%s' '$*' | sed -E 's/([A-Z]+)([A-Z][a-z])/\1-\2/g; s/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]'); \
	test -d "functions/$$dir" || { echo "no directory functions/$$dir for $@" >&2; exit 1; }; \
	echo "functions/$$dir -> $(ARTIFACTS_DIR)/bootstrap"; \
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" "./functions/$$dir"

migrate-up: ## Apply all migrations to database corral
	$(WITH_ENV) $(GO) run ./infra/local/migrate up

migrate-down: ## Roll back the migrations of database corral
	$(WITH_ENV) $(GO) run ./infra/local/migrate down

invoke: ## Invoke one function with an event: FN=entity-lookup EVENT=events/entity-lookup/ok.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo 'usage: make invoke FN=<function> EVENT=<event.json>' >&2; exit 2; }
	$(WITH_ENV) $(GO) run ./infra/local/invoke -fn '$(FN)' -event '$(EVENT)'

token: ## Print a local JWT: EMAIL=you@example.com
	@test -n "$(EMAIL)" || { echo 'usage: make token EMAIL=<address>' >&2; exit 2; }
	$(GO) run ./infra/local/token -email '$(EMAIL)'

jwks: ## Print the JWKS of a signing key ring, template.yaml's JwtPublicKeys: KEYS=keys.pem (default: the local development key)
	$(GO) run ./infra/local/jwks $(if $(KEYS),-keys '$(KEYS)')

load: ## Load test: SCENARIO=phase1|phase2|saturation (VUS=, DURATION=, LOGIN=token|password, WRITE=create|edit)
	bash infra/loadtest/load.sh

coldstart: ## Cold starts of every function against a local Lambda Runtime API (RUNS=20, WARM=1000, FN=name, POOLER=1: through PgBouncer)
	$(WITH_ENV) $(GO) run ./infra/local/coldstart -runs '$(or $(RUNS),20)' -warm '$(or $(WARM),1000)' $(if $(FN),-fn '$(FN)') $(if $(POOLER),-pooler)

stop: ## Stop the services that migrate-up, migrate-down or invoke started
	$(SERVICES) stop-started

clean: ## Remove build outputs (build/, .aws-sam/)
	rm -rf build .aws-sam
