# The front door. `make demo` and `make test` work on a machine with only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
REGION ?= eu-west-3
export SAM_CLI_TELEMETRY := 0
BUILD ?= build
DATA ?= $(BUILD)/data
ARTIFACTS ?= $(BUILD)/artifacts
STORE ?= $(BUILD)/store
API_PORT ?= 8000
# make demo: data large enough to be meaningful, trained in a few minutes on 2 cores.
DEMO_N_TRAIN ?= 100000
DEMO_N_NEW ?= 48744
DEMO_TRIALS ?= 4
SEED ?= 42
# LightGBM's OpenMP threads spin while idle by default; with two pytest workers on two cores
# they starve each other (minutes instead of seconds). Passive waiting costs nothing here.
export OMP_WAIT_POLICY ?= PASSIVE
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlruns/mlflow.db

.PHONY: help install build demo env serve test lint typecheck format data train train-full predict bench mlflow-ui lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $(SAM_STAMP)

install: $(STAMP) $(SAM_STAMP)  ## create .venv (+ .venv-sam for the SAM CLI) and install everything (pinned)

build: $(SAM_STAMP)  ## sam validate --lint + sam build (no Docker needed)
	$(SAM) validate --lint --region $(REGION)
	$(SAM) build --region $(REGION)

demo: install  ## generate data, train, publish to the local store, start the API
	$(BIN)/creditscore generate --out $(DATA) --n-train $(DEMO_N_TRAIN) --n-new $(DEMO_N_NEW) --seed $(SEED)
	$(BIN)/creditscore train --data $(DATA) --out $(ARTIFACTS) --trials $(DEMO_TRIALS)
	$(BIN)/creditscore publish --model $(ARTIFACTS)/latest --data $(DATA) --store local:$(STORE)
	@$(MAKE) --no-print-directory env
	$(BIN)/creditscore serve --store local:$(STORE) --host 127.0.0.1 --port $(API_PORT)

env:  ## write .env with a random API_TOKEN if there is none
	@if ! grep -qs '^API_TOKEN=' .env; then \
		echo "API_TOKEN=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env; \
		echo "wrote a new API_TOKEN to $(CURDIR)/.env"; \
	else echo "API_TOKEN read from $(CURDIR)/.env"; fi
	@echo "API docs: http://127.0.0.1:$(API_PORT)/docs (Authorization: Bearer <API_TOKEN from .env>)"

serve: install  ## start the API on the local store (after make demo)
	@$(MAKE) --no-print-directory env
	$(BIN)/creditscore serve --store local:$(STORE) --host 127.0.0.1 --port $(API_PORT)

test: install  ## run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/mypy functions training
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions training

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

train-full: install  ## the full-size run: 307,511 reference and 48,744 new clients
	$(BIN)/creditscore generate --out $(BUILD)/data-full --seed $(SEED)
	$(BIN)/creditscore train --data $(BUILD)/data-full --out $(BUILD)/artifacts-full

bench: install build  ## speed, size and quality benchmarks (figures in the README)
	$(BIN)/python -m training.bench --out $(BUILD)/bench
	$(BIN)/python -m training.bench_lambda --model $(BUILD)/bench/artifacts/latest \
		--data $(BUILD)/bench/data-307511-48744-0 --out $(BUILD)/bench

mlflow-ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

lock:  ## rewrite requirements-dev.txt from the current .venv
	{ echo "# Locked development environment: make lock regenerates it from .venv."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^creditscore'; \
	  echo "-e .[training,dev,server,score,explain,client]"; } > requirements-dev.txt

clean:
	rm -rf $(BUILD) .aws-sam .pytest_cache .mypy_cache .ruff_cache
