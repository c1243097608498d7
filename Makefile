# spool — build, run and test. `make run` and `make test` are the quick start.
SHELL := /bin/bash
GO ?= go
GOTEST_TIMEOUT ?= 15m

.PHONY: all deps build run test test-short bench bench-api stage package clean

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
bench-api: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./tablestore/

# The Functions app folder that `func start` runs: host.json, one folder per
# function, and the Linux handler binary.
stage: FORCE
	rm -rf stage && mkdir -p stage
	cp host.json stage/
	cp -r functions/* stage/
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o stage/handler ./cmd/handler

package: stage
	mkdir -p dist && rm -f dist/spool-functions.zip
	cd stage && zip -q -r ../dist/spool-functions.zip .

clean:
	rm -rf bin stage dist .run

FORCE:
