# spool — build, run and test. `make run` and `make test` are the quick start.
SHELL := /bin/bash
GO ?= go
GOTEST_TIMEOUT ?= 15m

.PHONY: all deps build run test test-short bench bench-api stage package clean reliability fuzz soak

all: build

# Everything a clean checkout needs: the pinned Azurite (npm ci) and Go modules.
deps: node_modules/.package-lock.json
	$(GO) mod download

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: bin/spool bin/handler

bin/spool: FORCE
	$(GO) build -o $@ ./cmd/spool

bin/handler: FORCE
	$(GO) build -o $@ ./cmd/handler

# The local stack: Azurite + the handler on 127.0.0.1:7071, no configuration needed.
run: deps build
	./scripts/run-local.sh

# Every test; each test package starts and stops the Azurite it needs.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) ./...

# 1 GiB through Azurite: the spool CLI against plain azblob PutBlob/GetBlob.
bench: deps bin/spool
	$(GO) run ./bench/transfer -spool ./bin/spool

# Control-plane benchmark: 100,000 buffers, a rare tag, create/show/set rates.
# Seeding 100k buffers through Azurite takes about two minutes per store.
bench-api: deps
	$(GO) test -run '^$$' -bench 'ListEmptyStore$$|ListRareTag/others-untagged|Create|Show|Set' -timeout 30m ./tablestore/
	$(GO) test -run '^$$' -bench API -benchtime 200x ./handler/

# The Functions app folder that `func start` (or `func azure functionapp publish`)
# runs: host.json, one folder per function, the static Linux handler binary, and the
# .funcignore that keeps anything else out of a publish.
STAGE_DIR ?= stage
DIST_DIR ?= dist
FUNCTION_DIRS := $(notdir $(wildcard functions/*))
stage: FORCE
	rm -rf $(STAGE_DIR) && mkdir -p $(STAGE_DIR)
	cp host.json .funcignore $(STAGE_DIR)/
	cp -r $(addprefix functions/,$(FUNCTION_DIRS)) $(STAGE_DIR)/
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o $(STAGE_DIR)/handler ./cmd/handler
	chmod 0755 $(STAGE_DIR)/handler

# The zip to deploy: exactly host.json, the function folders and the handler. Info-ZIP
# records Unix modes, so the handler keeps its run bit (the host execs it as is);
# -X leaves out owner and extra timestamps. cmd/handler/package_test.go checks it.
package: stage
	mkdir -p $(DIST_DIR) && rm -f $(DIST_DIR)/spool-functions.zip
	cd $(STAGE_DIR) && zip -q -X -r $(abspath $(DIST_DIR))/spool-functions.zip host.json handler $(FUNCTION_DIRS)

# RELIABILITY.md, written by the tests themselves: every fault or attack a test tries
# is recorded as a row (internal/reliability), then rendered. The report is written
# even when a test fails (its rows say so); make still fails then.
RELIABILITY_PKGS ?= ./...
reliability: deps
	mkdir -p .run && rm -f .run/reliability.jsonl
	SPOOL_RELIABILITY_OUT=$(CURDIR)/.run/reliability.jsonl $(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) $(RELIABILITY_PKGS); \
	status=$$?; \
	$(GO) run ./internal/reliability/render -in .run/reliability.jsonl -out RELIABILITY.md \
		-generated-by "$(if $(filter 1,$(SPOOL_SOAK)),SPOOL_SOAK=1 )make reliability" && exit $$status

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

clean:
	rm -rf bin stage dist .run

FORCE:
