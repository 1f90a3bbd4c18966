# The README's two commands: `make run` and `make test`. Both build the virtualenv from scratch.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed
# Deployment (README, Deploy): the Chalice stage, and what the consumer's SQS trigger is packaged with.
STAGE  ?= dev
SYNC_QUEUE_ARN ?=
CONSUMER_MAX_CONCURRENCY ?=

.PHONY: run test lint typecheck unit fmt clean chaos package deploy bench audit mutation

# pip stays below 26.3: chalice 1.34, whose packager drives pip, requires that.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade "pip<26.3"
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -c pyproject.toml -r app.py chalicelib sandbox scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test: lint typecheck unit

# The full chaos run (about 13,000 deliveries per SQS configuration, the two configurations side by
# side; slow: moto and the sandboxes are in process). Writes bench/chaos.json, which `python -m bench.readme` quotes in the README.
# CHAOS_SEED (default 7) picks the run's randomness (timelines, deliveries, kills, both sandboxes'
# faults) and is recorded in bench/chaos.json; it passes through from the environment, e.g.
# `CHAOS_SEED=11 make chaos`.
chaos: $(STAMP)
	rm -f bench/chaos.json
	CHAOS_CONTACTS=$${CHAOS_CONTACTS:-2000} CHAOS_REPORT=bench/chaos.json \
		$(BIN)/python -m pytest -q -p no:logging -n 2 tests/test_chaos.py

# Known vulnerabilities in every installed package (PyPI's JSON API or OSV). Not in `make test`:
# it needs those services, and a machine that reaches only a package mirror cannot audit anything
# (every package reports "not found on PyPI"); --strict makes that a failure, not a pass.
audit: $(STAMP)
	$(BIN)/pip-audit --local --strict

# Mutation testing (mutmut, configured in pyproject's [tool.mutmut]) of the safety-critical code
# against its fast unit tests; docs/mutation.md has the last result. About 3 minutes on 2 cores;
# not part of `make test`. Prints the survivors and the kill rate (killed / all mutants).
mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python -c "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); \
		print(f\"killed {s['killed']} of {s['total']} mutants: {100 * s['killed'] / s['total']:.1f}%\")"

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis mutants

# build/$(STAGE)/sam.json + deployment.zip for the python3.13 runtime, whatever Python runs make.
# SYNC_QUEUE_ARN defaults to the stage queue in the deploying account (Fn::Sub).
package: $(STAMP)
	SYNC_QUEUE_ARN=$(SYNC_QUEUE_ARN) CONSUMER_MAX_CONCURRENCY=$(CONSUMER_MAX_CONCURRENCY) \
		$(BIN)/python scripts/package.py --stage $(STAGE) --out build/$(STAGE)

# Resources stack, then package (queue ARN from its outputs), upload, app stack. Needs the AWS CLI.
deploy: $(STAMP)
	STAGE=$(STAGE) PYTHON=$(BIN)/python CONSUMER_MAX_CONCURRENCY=$(CONSUMER_MAX_CONCURRENCY) \
		scripts/deploy.sh

# Benchmarks against a seed-style batch baseline: one table, bench/results.json (bench/README.md).
# About 12 minutes on 2 cores; not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m bench
