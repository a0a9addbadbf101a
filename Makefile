# eventnotify: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
MONGO_VENV := .venv-mongo
PY := $(VENV)/bin/python
PROTO_SRC := $(wildcard protos/eventnotify/v1/*.proto)

.PHONY: run test install system-deps protos lint typecheck unit bench bench-api clean

## Install the project (and the local MongoDB stand-in) into virtualenvs.
install: $(VENV)/.installed $(MONGO_VENV)/.installed protos

$(VENV)/.installed: pyproject.toml .deps/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -c .deps/constraints.txt -e '.[dev]'
	touch $@

# SecantusDB is GPL-2.0: it lives in its own virtualenv and runs as a separate
# process; our code never imports it.
$(MONGO_VENV)/.installed: .deps/mongo-constraints.txt
	$(PYTHON) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/pip install -q --disable-pip-version-check -c .deps/mongo-constraints.txt SecantusDB==0.7.0b3
	touch $@

## Regenerate Python code and type stubs from protos/ (also run by install).
protos: $(VENV)/.installed
	$(PY) -m service.protogen

## Install, start MongoDB + Kafka stand-ins, the gRPC service and the dispatcher; Ctrl-C stops all.
run: install
	$(PY) -m service.devstack run

## Lint, type-check and run the whole suite against a fresh local stack.
test: install system-deps lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider

## Tools the cross-language tests drive: kcat (Debian) and the Node gRPC client (npm).
system-deps:
	command -v kcat >/dev/null || (apt-get update -qq && apt-get install -y -qq kcat)
	command -v node >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	test -d tests/node/node_modules || (cd tests/node && npm ci --no-audit --no-fund --ignore-scripts)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check service dispatcher tests
	$(VENV)/bin/ruff format --check service dispatcher tests

typecheck: $(VENV)/.installed protos
	$(VENV)/bin/mypy

## API benchmark: gRPC lookups vs the same queries made directly with pymongo.
bench-api: install
	$(PY) -m service.bench_api

## End-to-end delivery benchmark vs a bare consume -> POST -> insert_many loop.
bench: install
	$(PY) -m dispatcher.bench

clean:
	rm -rf $(VENV) $(MONGO_VENV) .eventnotify
	find protos -name '*_pb2*.py*' -delete
