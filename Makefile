# spool — build, run and test. `make run` and `make test` are the quick start.
SHELL := /bin/bash
GO ?= go
GOTEST_TIMEOUT ?= 15m

.PHONY: all deps build run storage test test-short bench bench-api stage package clean reliability fuzz soak

all: build

# Everything a clean checkout needs: the pinned Azurite and Go modules. npm ci runs
# only when the installed Azurite is not the version package-lock.json pins: file
# dates mean nothing after a git checkout, and npm ci first deletes node_modules.
AZURITE_PINNED = node -p 'require("./package-lock.json").packages["node_modules/azurite"].version'
AZURITE_INSTALLED = node -p 'require("./node_modules/azurite/package.json").version' 2>/dev/null
deps:
	@command -v node >/dev/null || { echo "deps: Node.js is needed (see the README's prerequisites)" >&2; exit 1; }
	@if [ "$$($(AZURITE_INSTALLED))" != "$$($(AZURITE_PINNED))" ]; then npm ci --no-audit --no-fund; fi
	$(GO) mod download

BIN_DIR ?= bin
build: $(BIN_DIR)/spool $(BIN_DIR)/handler

# The CLI's version (spool --version, and its User-Agent): git describe, else "dev".
SPOOL_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
$(BIN_DIR)/spool: FORCE
	$(GO) build -ldflags "-X spool/client/cli.stampedVersion=$(SPOOL_VERSION)" -o $@ ./cmd/spool

$(BIN_DIR)/handler: FORCE
	$(GO) build -o $@ ./cmd/handler

# The local stack: Azurite + the handler on 127.0.0.1:7071, no configuration needed,
# and the timer ticks the Functions host would post (scripts/run-local.sh).
# make passes a SIGTERM on to its recipe and a Ctrl-C reaches the whole process
# group, but a SIGINT sent to make alone is not passed on: make only deletes the file
# the interrupted recipe was making, then waits. So the recipe "makes" RUN_ALIVE and
# the script stops the stack once make has deleted it.
RUN_ALIVE ?= .run/make-run.alive
run: $(RUN_ALIVE)

$(RUN_ALIVE): deps build
	@mkdir -p $(@D)
	SPOOL_ALIVE_FILE=$@ SPOOL_BIN_DIR=$(BIN_DIR) ./scripts/run-local.sh

# Azurite alone on the same ports and data, for `cd stage && func start`.
STORAGE_ALIVE ?= .run/make-storage.alive
storage: $(STORAGE_ALIVE)

$(STORAGE_ALIVE): deps
	@mkdir -p $(@D)
	SPOOL_ALIVE_FILE=$@ ./scripts/run-local.sh --storage-only

# Every test; each test package starts and stops the Azurite it needs.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) ./...

# The same without the slow tests (those that skip under -short).
test-short: deps
	$(GO) vet ./...
	$(GO) test -count=1 -short -timeout $(GOTEST_TIMEOUT) ./...

# 1 GiB through Azurite: the spool CLI against plain azblob PutBlob/GetBlob.
bench: deps $(BIN_DIR)/spool
	$(GO) run ./bench/transfer -spool $(abspath $(BIN_DIR))/spool

# Control-plane benchmark: 100,000 buffers, a rare tag, create/show/set rates.
# Seeding 100k buffers through Azurite takes about two minutes per store.
bench-api: deps
	$(GO) test -run '^$$' -bench 'ListEmptyStore$$|ListRareTag/others-untagged|Create|Show|Set' -timeout 30m ./tablestore/
	$(GO) test -run '^$$' -bench API -benchtime 200x ./handler/

# The Functions app folder that `func start` (or `func azure functionapp publish`)
# runs: host.json, one folder per function, the static Linux handler binary, the
# .funcignore that keeps anything else out of a publish, and a local.settings.json for
# `func start` against `make storage` (yours if the checkout has one, else the
# sample). It holds a key, so .funcignore keeps it out of a publish and the package
# leaves it out.
#
# AUTH_MODE says who guards the HTTP routes. function (the default): the host
# demands a function key on every route but metadata. entra: the staged
# function.json files say authLevel anonymous, since Tyger's CLI sends a bearer
# token and no key; the handler's token check (SPOOL_AUTH_ISSUER, which it refuses
# to start without) guards every route then.
STAGE_DIR ?= stage
DIST_DIR ?= dist
AUTH_MODE ?= function
AUTH_LEVEL_function := function
AUTH_LEVEL_entra := anonymous
FUNCTION_DIRS := $(notdir $(wildcard functions/*))
LOCAL_SETTINGS := $(firstword $(wildcard local.settings.json) local.settings.json.sample)
stage: FORCE
	rm -rf $(STAGE_DIR) && mkdir -p $(STAGE_DIR)
	cp host.json .funcignore $(STAGE_DIR)/
	cp $(LOCAL_SETTINGS) $(STAGE_DIR)/local.settings.json
	cp -r $(addprefix functions/,$(FUNCTION_DIRS)) $(STAGE_DIR)/
	$(if $(AUTH_LEVEL_$(AUTH_MODE)),,$(error AUTH_MODE must be function or entra, not "$(AUTH_MODE)"))
	sed -i 's/"authLevel": *"function"/"authLevel": "$(AUTH_LEVEL_$(AUTH_MODE))"/' $(STAGE_DIR)/*/function.json
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w' -o $(STAGE_DIR)/handler ./cmd/handler
	chmod 0755 $(STAGE_DIR)/handler

# The zip to deploy: exactly host.json, the function folders and the handler. Info-ZIP
# records Unix modes, so the handler keeps its run bit (the host execs it as is);
# -X leaves out owner and extra timestamps. cmd/handler/package_test.go checks it.
package: stage
	mkdir -p $(DIST_DIR) && rm -f $(DIST_DIR)/spool-functions.zip
	cd $(STAGE_DIR) && zip -q -X -r $(abspath $(DIST_DIR))/spool-functions.zip host.json handler $(FUNCTION_DIRS)

# The reliability report, written by the tests themselves: every fault or attack a
# test tries is recorded as a row (internal/reliability), then rendered. The report is
# written even when a test fails (its rows say so); make still fails then. The
# committed RELIABILITY.md comes from the long variants (SPOOL_SOAK=1); the short run
# writes .run/RELIABILITY.md, so it never replaces that report by accident.
RELIABILITY_PKGS ?= ./...
RELIABILITY_OUT ?= $(if $(filter 1,$(SPOOL_SOAK)),RELIABILITY.md,.run/RELIABILITY.md)
reliability: deps
	mkdir -p .run && rm -f .run/reliability.jsonl
	SPOOL_RELIABILITY_OUT=$(CURDIR)/.run/reliability.jsonl $(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) $(RELIABILITY_PKGS); \
	status=$$?; \
	$(GO) run ./internal/reliability/render -in .run/reliability.jsonl -out $(RELIABILITY_OUT) \
		-generated-by "$(if $(filter 1,$(SPOOL_SOAK)),SPOOL_SOAK=1 )make reliability" || exit 1; \
	echo "reliability: wrote $(RELIABILITY_OUT)$(if $(filter 1,$(SPOOL_SOAK)),, (short variant: SPOOL_SOAK=1 make reliability writes RELIABILITY.md))"; \
	exit $$status

# Each fuzz target for FUZZTIME (seed corpora also run in every `make test`).
# One worker: the machine is shared and some packages start Azurite per process.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./handler/:FuzzTagValidation ./handler/:FuzzListQuery ./handler/:FuzzCreateBody ./handler/:FuzzUpdateBody \
	./client/:FuzzParseSize ./client/:FuzzValidateTags ./client/:FuzzResolveBuffer \
	./client/cli/:FuzzTagFlag \
	./tablestore/:FuzzDecodeContinuation ./tablestore/:FuzzODataQuote ./tablestore/:FuzzTagPartition \
	./client/transfer/:FuzzBlobPath
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 1; \
	done

# Long variants of the reliability tests (more rounds, more racing writers; data-plane
# faults at 256 MiB, stalls past the engine's 60 s limits, real 30 s access URLs).
soak: deps
	SPOOL_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'Concurrent|Racing|TableFaults|Stalled|Killed' ./handler/
	SPOOL_SOAK=1 $(GO) test -count=1 -timeout 60m -run '^TestFaults' ./client/cli/

# Everything the build, tests and runs made; never node_modules or local.settings.json.
clean:
	rm -rf $(sort bin stage dist .run $(BIN_DIR) $(STAGE_DIR) $(DIST_DIR)) __azurite* __blobstorage__ __queuestorage__
	find . -path ./node_modules -prune -o -type f \( -name '*.test' -o -name '*.out' -o -name '*.coverprofile' -o -name 'coverage.html' \) -print -exec rm -f {} +

FORCE:
