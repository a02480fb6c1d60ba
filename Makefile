# actiongate: the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
PYTHON ?= python3
TEST_VENV := target/test-venv
NODE_SDK := target/node-sdk

.PHONY: run test lint bench test-venv test-node clean-data

## Build and start the gateway on 127.0.0.1:8080 with SQLite under data/.
## The first start prints an admin token and saves it to data/admin.token.
run:
	$(CARGO) run --release --bin actiongate -- serve

## Every test: unit and integration tests on SQLite and on a throwaway
## PostgreSQL, the Pangea Python and Node.js SDK conformance tests,
## schemathesis over every operation of the OpenAPI document, and the doc
## examples (the Rust client's, one per service, are compiled).
test: test-venv test-node
	$(CARGO) build --quiet --example scenario
	ACTIONGATE_REQUIRE_SDK=1 scripts/with-postgres.sh $(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

## Formatting, lints and the docs' links, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

## Throughput and latency against a bare hyper baseline (wrk on loopback).
bench:
	scripts/with-postgres.sh bench/run.sh

## The pinned Pangea SDK and schemathesis in a venv under target/.
test-venv: $(TEST_VENV)/.installed

$(TEST_VENV)/.installed: tests/requirements.txt
	rm -rf $(TEST_VENV)
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## The pinned Pangea Node.js SDK, installed with `npm ci` under target/.
test-node: $(NODE_SDK)/.installed

$(NODE_SDK)/.installed: tests/sdk/node/package.json tests/sdk/node/package-lock.json
	rm -rf $(NODE_SDK)
	mkdir -p $(NODE_SDK)
	cp tests/sdk/node/package.json tests/sdk/node/package-lock.json $(NODE_SDK)/
	cd $(NODE_SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Forget the local database and admin token (the next `make run` bootstraps again).
clean-data:
	rm -rf data
