# The README's two commands: `make run` and `make test`. Both build the virtualenv from scratch.
# `make help` lists every target.
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
# The test suites, one folder of tests/ each (docs/testing.md), all on two pytest workers.
SUITES := unit component blackbox deploy sandbox chaos browser
PYTEST := $(BIN)/python -m pytest -n 2 -q

.PHONY: help run test lint typecheck unit component blackbox deploy-check sandbox-check chaos-check \
	browser chromium \
	fmt clean chaos package deploy venv deploy-venv deploy-venv-if-any bench audit mutation

# pip stays below 26.3: chalice 1.34, whose packager drives pip, requires that.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade "pip<26.3"
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP) ## build .venv/ (requirements-dev.txt) if it is missing or stale

# Chalice gives the functions the runtime of the Python running it: `chalice deploy` runs from
# here, Python 3.13 (scripts/python313.sh finds one on PATH, under pyenv or uv, or says how to get
# one), with the app's requirements and requirements-dev.txt's chalice and boto3.
$(DEPLOY_STAMP): requirements.txt requirements-dev.txt scripts/python313.sh
	python313="$$(scripts/python313.sh)" && rm -rf $(DEPLOY_VENV) && "$$python313" -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --disable-pip-version-check -q --upgrade "pip<26.3"
	$(DEPLOY_VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt \
		$$(grep -E '^(chalice|boto3)==' requirements-dev.txt)
	touch $(DEPLOY_STAMP)

deploy-venv: $(DEPLOY_STAMP) ## build .venv-deploy/ (Python 3.13) for `chalice deploy`

# For `make test`: tests/deploy/test_chalice_deploy.py deploys from $(DEPLOY_VENV), and is skipped (saying
# why) on a machine with no Python 3.13.
deploy-venv-if-any:
	@if scripts/python313.sh >/dev/null 2>&1; then $(MAKE) --no-print-directory deploy-venv; \
	else echo "no Python 3.13 here: tests/deploy/test_chalice_deploy.py will be skipped"; fi

run: $(STAMP) ## the whole service on this machine (python -m sandbox) on PORT (8000)
	PORT=$(PORT) $(BIN)/python -m sandbox

lint: $(STAMP) ## ruff check, ruff format --check, bandit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -c pyproject.toml -r app.py chalicelib ops sandbox scripts

typecheck: $(STAMP) ## mypy (strict), tests included
	$(BIN)/mypy

# `make test` runs every suite in one pytest run, so the two workers share the whole load as before
# the split (one run per suite would wait for each suite's slowest test in turn). The targets below
# run one suite each.
test: lint typecheck $(STAMP) deploy-venv-if-any chromium ## lint, typecheck and every test suite (what CI runs)
	$(PYTEST) $(addprefix tests/,$(SUITES))

unit: $(STAMP) ## pure code and in-memory fakes, no servers, no AWS (tests/unit; seconds)
	$(PYTEST) tests/unit

component: $(STAMP) ## the app under chalice.test with moto and the sandbox servers (tests/component)
	$(PYTEST) tests/component

blackbox: $(STAMP) ## `python -m sandbox` started as a process, driven over HTTP (tests/blackbox)
	$(PYTEST) tests/blackbox

deploy-check: $(STAMP) deploy-venv-if-any ## the deploy artifacts and a `chalice deploy` into moto (tests/deploy)
	$(PYTEST) tests/deploy

sandbox-check: $(STAMP) ## the GHL and CallTools sandbox servers' own tests (tests/sandbox)
	$(PYTEST) tests/sandbox

chaos-check: $(STAMP) ## the small chaos run of `make test`: 40 contacts (tests/chaos)
	$(PYTEST) tests/chaos

# tests/browser drives Debian's chromium (Playwright, which downloads no browser of its own):
# scripts/chromium.sh installs it when missing and it may (root, or sudo without a password), or
# says how; the browser tests then skip, saying the same.
chromium: ## install Debian's chromium for tests/browser if missing (or say how)
	@scripts/chromium.sh

browser: $(STAMP) chromium ## the /admin status page in a headless Chromium (tests/browser)
	$(PYTEST) tests/browser

# The full chaos run (about 13,000 deliveries per SQS configuration, the two configurations side by
# side; slow: moto and the sandboxes are in process). Writes bench/chaos.json, which `python -m bench.readme` quotes in docs/performance.md.
# CHAOS_SEED (default 7) picks the run's randomness (timelines, deliveries, kills, both sandboxes'
# faults) and is recorded in bench/chaos.json; it passes through from the environment, e.g.
# `CHAOS_SEED=11 make chaos`.
chaos: $(STAMP) ## the full chaos run, 2,000 contacts; writes bench/chaos.json
	rm -f bench/chaos.json
	CHAOS_CONTACTS=$${CHAOS_CONTACTS:-2000} CHAOS_REPORT=bench/chaos.json \
		$(BIN)/python -m pytest -q -p no:logging -n 2 tests/chaos

# Known vulnerabilities in every installed package (PyPI's JSON API or OSV). Not in `make test`:
# it needs those services, and a machine that reaches only a package mirror cannot audit anything
# (every package reports "not found on PyPI"); --strict makes that a failure, not a pass.
audit: $(STAMP) ## pip-audit of every installed package (needs PyPI or OSV)
	$(BIN)/pip-audit --local --strict

# Mutation testing (mutmut, configured in pyproject's [tool.mutmut]) of the safety-critical code
# against its fast unit tests; docs/mutation.md has the last result. About 3 minutes on 2 cores;
# not part of `make test`. Prints the survivors and the kill rate (killed / all mutants).
mutation: $(STAMP) ## mutmut over the safety-critical code (docs/mutation.md)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python -c "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); \
		print(f\"killed {s['killed']} of {s['total']} mutants: {100 * s['killed'] / s['total']:.1f}%\")"

fmt: $(STAMP) ## ruff format and ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove both virtualenvs and the tools' caches
	rm -rf $(VENV) $(DEPLOY_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis mutants

# The CloudFormation path, for teams that want the app in a stack of its own (docs/deploy.md):
# build/$(STAGE)/sam.json + deployment.zip for the python3.13 runtime, whatever Python runs make.
# SYNC_QUEUE_ARN defaults to the stage queue in the deploying account (Fn::Sub).
package: $(STAMP) ## build/STAGE/: the SAM template and the python3.13 zip
	SYNC_QUEUE_ARN=$(SYNC_QUEUE_ARN) CONSUMER_MAX_CONCURRENCY=$(CONSUMER_MAX_CONCURRENCY) \
		$(BIN)/python scripts/package.py --stage $(STAGE) --out build/$(STAGE)

# The resources stack, then `chalice deploy` from $(DEPLOY_VENV), with the deployed state kept in
# the stack's artifact bucket (scripts/deploy.sh). Needs the AWS CLI.
deploy: $(DEPLOY_STAMP) ## deploy STAGE to AWS: resources stack, then `chalice deploy`
	STAGE=$(STAGE) CHALICE=$(DEPLOY_VENV)/bin/chalice scripts/deploy.sh

# Benchmarks against a seed-style batch baseline: one table, bench/results.json (bench/README.md).
# About 12 minutes on 2 cores; not part of `make test`.
bench: $(STAMP) ## the benchmarks against the batch baseline; writes bench/results.json
	$(BIN)/python -m bench

# Each target with a `## ` description, in the order of this file.
help: ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z0-9-]*:[^=].*## / {printf "  %-14s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)
