# eventnotify: the two commands a newcomer needs are `make run` and `make test`.
# `make help` lists every target.
PYTHON ?= python3.11
# The first Python 3.12 that runs (pyenv keeps versions it does not put on PATH).
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do $$p -c '' 2>/dev/null && echo $$p && break; done)
VENV := .venv
VENV312 := .venv312
MONGO_VENV := .venv-mongo
PY := $(VENV)/bin/python
PIP_FLAGS := -q --disable-pip-version-check
CODE := eventnotify service dispatcher devstack bench scripts tests setup.py

.PHONY: help run test install system-deps protos lint format typecheck unit unit312 \
	bench bench-api bench-scale mutate clean openapi

## Show this list.
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-z0-9-]+:/{if(doc){split($$1,t,":"); printf "  make %-12s %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

## Install, start MongoDB + Kafka stand-ins, the gRPC service and the dispatcher; Ctrl-C stops all.
run: install
	$(PY) -m devstack run

## Rewrite docs/openapi.json from the contracts (a test checks it is in step).
openapi: protos
	$(PY) -m service.gateway.openapi > docs/openapi.json

## Lint, type-check and run the whole suite against a fresh local stack (CI runs this).
test: install system-deps lint typecheck unit312
	$(PY) -m pytest -q -p no:cacheprovider

## Install the project (editable, with dev tools) and the local MongoDB stand-in.
install: $(VENV)/.installed $(MONGO_VENV)/.installed protos

$(VENV)/.installed: pyproject.toml setup.py .deps/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c .deps/constraints.txt -e '.[dev]'
	touch $@

# SecantusDB is GPL-2.0: it lives in its own virtualenv and runs as a separate
# process; our code never imports it.
$(MONGO_VENV)/.installed: .deps/mongo-constraints.txt
	$(PYTHON) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/pip install $(PIP_FLAGS) -c .deps/mongo-constraints.txt SecantusDB==0.7.0b3
	touch $@

## Regenerate eventnotify/v1 (Python code and type stubs) from protos/.
protos: $(VENV)/.installed
	$(PY) scripts/protogen.py

## Tools the cross-language tests drive: kcat (Debian) and the Node gRPC client (npm).
system-deps:
	command -v kcat >/dev/null || (apt-get update -qq && apt-get install -y -qq kcat)
	command -v node >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	test -d tests/node/node_modules || (cd tests/node && npm ci --no-audit --no-fund --ignore-scripts)

## ruff (lint and format check) and the import-linter layer contracts.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/lint-imports

## Rewrite the code in ruff's format and apply its safe fixes.
format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix $(CODE)
	$(VENV)/bin/ruff format $(CODE)

## mypy --strict over the product, the tools, the tests and the generated stubs.
typecheck: $(VENV)/.installed protos
	$(VENV)/bin/mypy

## The fast tier: tests that need no servers (under a minute).
unit: install
	$(PY) -m pytest -q -p no:cacheprovider -m unit

# The unit tier again on Python 3.12, skipped with a note when it is absent.
$(VENV312)/.installed: pyproject.toml setup.py .deps/constraints.txt
	$(PYTHON312) -m venv $(VENV312)
	$(VENV312)/bin/pip install $(PIP_FLAGS) -c .deps/constraints.txt -e '.[dev]'
	touch $@

## The fast tier on Python 3.12 (the second supported version).
unit312: protos
	@if [ -n "$(PYTHON312)" ]; then \
		$(MAKE) --no-print-directory $(VENV312)/.installed && \
		$(VENV312)/bin/python -m pytest -q -p no:cacheprovider -p no:randomly -m unit; \
	else echo "unit312: no Python 3.12 found; skipped"; fi

## End-to-end delivery benchmark vs a bare consume -> POST -> insert_many loop.
bench: install
	$(PY) -m bench.delivery

## API benchmark: gRPC lookups vs the same queries made directly with pymongo and over HTTP/JSON.
bench-api: install
	$(PY) -m bench.api

## Mutation testing (mutmut) of the modules deciding delivery outcomes, on their fast tests; slow.
mutate: $(VENV)/.installed protos
	rm -rf mutants
	$(VENV)/bin/mutmut run
	$(PY) -m scripts.mutation_scores
## Scale benchmark: 10,000 webhooks in one dispatcher (idle cost, new webhook, fan-out, latency, isolation).
bench-scale: install
	$(PY) -m bench.scale $(ARGS)

## Remove virtualenvs, local state and generated code.
clean:
	rm -rf $(VENV) $(VENV312) $(MONGO_VENV) .eventnotify build dist mutants
	rm -f eventnotify/v1/*_pb2.py eventnotify/v1/*_pb2.pyi eventnotify/v1/*_pb2_grpc.py eventnotify/v1/descriptors.binpb
