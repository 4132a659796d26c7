# The front door. `make demo` and `make test` work on a machine with only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUILD ?= build
DATA ?= $(BUILD)/data
ARTIFACTS ?= $(BUILD)/artifacts
# make demo: data large enough to be meaningful, trained in a few minutes on 2 cores.
DEMO_N_TRAIN ?= 100000
DEMO_N_NEW ?= 48744
SEED ?= 42
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlruns/mlflow.db

.PHONY: help install demo test lint typecheck format data train train-full predict bench mlflow-ui lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything (pinned)

demo: install  ## generate data, train, and show the summary
	$(BIN)/creditscore generate --out $(DATA) --n-train $(DEMO_N_TRAIN) --n-new $(DEMO_N_NEW) --seed $(SEED)
	$(BIN)/creditscore train --data $(DATA) --out $(ARTIFACTS)

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

bench: install  ## speed and quality benchmarks (figures in the README)
	$(BIN)/python -m training.bench --out $(BUILD)/bench

mlflow-ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

lock:  ## rewrite requirements-dev.txt from the current .venv
	{ echo "# Locked development environment: make lock regenerates it from .venv."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^creditscore'; \
	  echo "-e .[training,dev,server,score,explain,client]"; } > requirements-dev.txt

clean:
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache
