# actiongate: the two commands a new user needs are `make run` and `make test`.

CARGO ?= cargo
PYTHON ?= python3
SDK_VENV := target/sdk-venv

.PHONY: run test lint bench sdk-venv clean-data

## Build and start the gateway on 127.0.0.1:8080 with SQLite under data/.
## The first start prints an admin token and saves it to data/admin.token.
run:
	$(CARGO) run --release --bin actiongate -- serve

## Every test: unit and integration tests on SQLite and on a throwaway
## PostgreSQL, and the Pangea Python SDK conformance test.
test: sdk-venv
	ACTIONGATE_REQUIRE_SDK=1 scripts/with-postgres.sh $(CARGO) test --workspace --all-targets

## Formatting and lints, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Throughput and latency against a bare hyper baseline (wrk on loopback).
bench:
	scripts/with-postgres.sh bench/run.sh

## The pinned Pangea SDK in a venv under target/, for the conformance test.
sdk-venv: $(SDK_VENV)/.installed

$(SDK_VENV)/.installed: tests/sdk/requirements.txt
	rm -rf $(SDK_VENV)
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
	touch $@

## Forget the local database and admin token (the next `make run` bootstraps again).
clean-data:
	rm -rf data
