# The README's two commands: `make run` and `make test`. Both build the virtualenv from scratch.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed
# Deployment (docs/deploy.md): the Chalice stage; `chalice deploy` runs from a Python 3.13 venv.
STAGE  ?= dev
DEPLOY_VENV  ?= .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
# `make package` only (the CloudFormation path): the queue the SAM template's trigger names.
SYNC_QUEUE_ARN ?=
CONSUMER_MAX_CONCURRENCY ?=

.PHONY: run test lint typecheck unit fmt clean chaos package deploy deploy-venv deploy-venv-if-any \
	bench audit mutation

# pip stays below 26.3: chalice 1.34, whose packager drives pip, requires that.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade "pip<26.3"
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Chalice gives the functions the runtime of the Python running it: `chalice deploy` runs from
# here, Python 3.13 (scripts/python313.sh finds one on PATH, under pyenv or uv, or says how to get
# one), with the app's requirements and requirements-dev.txt's chalice and boto3.
$(DEPLOY_STAMP): requirements.txt requirements-dev.txt scripts/python313.sh
	python313="$$(scripts/python313.sh)" && rm -rf $(DEPLOY_VENV) && "$$python313" -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --disable-pip-version-check -q --upgrade "pip<26.3"
	$(DEPLOY_VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt \
		$$(grep -E '^(chalice|boto3)==' requirements-dev.txt)
	touch $(DEPLOY_STAMP)

deploy-venv: $(DEPLOY_STAMP)

# For `make test`: tests/deploy/test_chalice_deploy.py deploys from $(DEPLOY_VENV), and is skipped (saying
# why) on a machine with no Python 3.13.
deploy-venv-if-any:
	@if scripts/python313.sh >/dev/null 2>&1; then $(MAKE) --no-print-directory deploy-venv; \
	else echo "no Python 3.13 here: tests/deploy/test_chalice_deploy.py will be skipped"; fi

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -c pyproject.toml -r app.py chalicelib ops sandbox scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) deploy-venv-if-any
	$(BIN)/python -m pytest -n 2 -q

test: lint typecheck unit

# The full chaos run (about 13,000 deliveries per SQS configuration, the two configurations side by
# side; slow: moto and the sandboxes are in process). Writes bench/chaos.json, which `python -m bench.readme` quotes in docs/performance.md.
# CHAOS_SEED (default 7) picks the run's randomness (timelines, deliveries, kills, both sandboxes'
# faults) and is recorded in bench/chaos.json; it passes through from the environment, e.g.
# `CHAOS_SEED=11 make chaos`.
chaos: $(STAMP)
	rm -f bench/chaos.json
	CHAOS_CONTACTS=$${CHAOS_CONTACTS:-2000} CHAOS_REPORT=bench/chaos.json \
		$(BIN)/python -m pytest -q -p no:logging -n 2 tests/chaos

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
	rm -rf $(VENV) $(DEPLOY_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis mutants

# The CloudFormation path, for teams that want the app in a stack of its own (docs/deploy.md):
# build/$(STAGE)/sam.json + deployment.zip for the python3.13 runtime, whatever Python runs make.
# SYNC_QUEUE_ARN defaults to the stage queue in the deploying account (Fn::Sub).
package: $(STAMP)
	SYNC_QUEUE_ARN=$(SYNC_QUEUE_ARN) CONSUMER_MAX_CONCURRENCY=$(CONSUMER_MAX_CONCURRENCY) \
		$(BIN)/python scripts/package.py --stage $(STAGE) --out build/$(STAGE)

# The resources stack, then `chalice deploy` from $(DEPLOY_VENV), with the deployed state kept in
# the stack's artifact bucket (scripts/deploy.sh). Needs the AWS CLI.
deploy: $(DEPLOY_STAMP)
	STAGE=$(STAGE) CHALICE=$(DEPLOY_VENV)/bin/chalice scripts/deploy.sh

# Benchmarks against a seed-style batch baseline: one table, bench/results.json (bench/README.md).
# About 12 minutes on 2 cores; not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m bench
