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
# The advisors' dashboard (Streamlit) and the API it talks to (make dashboard: any API).
DASHBOARD_PORT ?= 8501
API_URL ?= http://127.0.0.1:$(API_PORT)
STREAMLIT_FLAGS = --server.headless true --browser.gatherUsageStats false \
	--server.address 127.0.0.1 --server.port $(DASHBOARD_PORT)
# The browser test drives Debian's Chromium through its driver (make browser installs both).
# The browser test's Chromium and driver (Debian's by default; GitHub's runners have Chrome).
export CHROMIUM ?= /usr/bin/chromium
export CHROMEDRIVER ?= /usr/bin/chromedriver
# The API token: from the environment, else the last API_TOKEN line of .env (make env).
READ_TOKEN = export API_TOKEN="$${API_TOKEN:-$$(sed -n 's/^API_TOKEN=//p' .env 2>/dev/null | tail -n 1)}"
# make demo: data large enough to be meaningful, trained in a few minutes on 2 cores.
DEMO_N_TRAIN ?= 100000
DEMO_N_NEW ?= 48744
DEMO_TRIALS ?= 4
SEED ?= 42
# LightGBM's OpenMP threads spin while idle by default; with two pytest workers on two cores
# they starve each other (minutes instead of seconds). Passive waiting costs nothing here.
export OMP_WAIT_POLICY ?= PASSIVE
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlruns/mlflow.db

.PHONY: help install build demo env serve dashboard browser drift eda report test lint typecheck format data train train-full predict bench mlflow-ui lock clean

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

demo: install  ## generate data, train, publish, then start the API (:8000) and the dashboard (:8501)
	$(BIN)/creditscore generate --out $(DATA) --n-train $(DEMO_N_TRAIN) --n-new $(DEMO_N_NEW) --seed $(SEED)
	$(BIN)/creditscore train --data $(DATA) --out $(ARTIFACTS) --trials $(DEMO_TRIALS)
	$(BIN)/creditscore publish --model $(ARTIFACTS)/latest --data $(DATA) --store local:$(STORE)
	$(BIN)/creditscore drift --data $(DATA) --model $(ARTIFACTS)/latest --out $(BUILD)/drift --publish local:$(STORE)
	$(BIN)/creditscore report --model $(ARTIFACTS)/latest --out $(BUILD)/docs --store local:$(STORE)
	@$(MAKE) --no-print-directory env
	@# The API runs in the background and is stopped when the dashboard stops (Ctrl-C stops both).
	@$(READ_TOKEN); \
	if (exec 3<>/dev/tcp/127.0.0.1/$(API_PORT)) 2>/dev/null; then \
		echo "port $(API_PORT) is already in use (an API still running?): stop it or set API_PORT" >&2; exit 1; fi; \
	$(BIN)/creditscore serve --store local:$(STORE) --host 127.0.0.1 --port $(API_PORT) & api=$$!; \
	trap 'kill $$api 2>/dev/null; wait $$api 2>/dev/null; echo "API stopped"' EXIT; trap 'exit 130' INT TERM; \
	for i in $$(seq 120); do \
		(exec 3<>/dev/tcp/127.0.0.1/$(API_PORT)) 2>/dev/null && break; \
		kill -0 $$api 2>/dev/null || { echo "the API failed to start (see above)" >&2; exit 1; }; \
		sleep 0.5; done; \
	echo; echo "API:       http://127.0.0.1:$(API_PORT)/docs  (token: API_TOKEN in $(CURDIR)/.env)"; \
	echo "Dashboard: http://127.0.0.1:$(DASHBOARD_PORT)"; echo "Ctrl-C stops both."; echo; \
	API_URL=http://127.0.0.1:$(API_PORT) $(BIN)/python -m streamlit run frontend/app.py $(STREAMLIT_FLAGS)

env:  ## write .env with a random API_TOKEN if there is none
	@if ! grep -qs '^API_TOKEN=' .env; then \
		echo "API_TOKEN=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env; \
		echo "wrote a new API_TOKEN to $(CURDIR)/.env"; \
	else echo "API_TOKEN read from $(CURDIR)/.env"; fi
	@echo "API docs: http://127.0.0.1:$(API_PORT)/docs (Authorization: Bearer <API_TOKEN from .env>)"

serve: install  ## start the API on the local store (after make demo)
	@$(MAKE) --no-print-directory env
	$(BIN)/creditscore serve --store local:$(STORE) --host 127.0.0.1 --port $(API_PORT)

dashboard: install  ## start only the dashboard on :8501 against a running API (API_URL=...)
	@$(READ_TOKEN); \
	if [ -z "$$API_TOKEN" ]; then \
		echo "no API_TOKEN in the environment nor in $(CURDIR)/.env (make serve writes one)" >&2; exit 1; fi; \
	echo "Dashboard: http://127.0.0.1:$(DASHBOARD_PORT)  (API: $(API_URL))"; \
	exec env API_URL=$(API_URL) $(BIN)/python -m streamlit run frontend/app.py $(STREAMLIT_FLAGS)

browser:  ## install Chromium and chromedriver (Debian packages) for the browser test, if missing
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "make browser: $(CHROMIUM) or $(CHROMEDRIVER) is missing and installing them needs" \
		"root or sudo: as root, apt-get install chromium chromium-driver" >&2; exit 1; fi; \
	command -v apt-get >/dev/null 2>&1 || { echo "make browser: no apt-get here: install" \
		"Chromium and its driver as $(CHROMIUM) and $(CHROMEDRIVER)" >&2; exit 1; }; \
	echo "make browser: installing chromium and chromium-driver (Debian packages)"; \
	$$sudo apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends chromium chromium-driver && \
	test -x $(CHROMIUM) && test -x $(CHROMEDRIVER)

test: install browser  ## run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/mypy functions training monitoring serving benchmarks frontend
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions training monitoring serving benchmarks frontend

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

train-full: install  ## the full-size run: 307,511 reference and 48,744 new clients
	$(BIN)/creditscore generate --out $(BUILD)/data-full --seed $(SEED)
	$(BIN)/creditscore train --data $(BUILD)/data-full --out $(BUILD)/artifacts-full

drift: install  ## drift report of the demo data (build/drift/drift_report.html), published to the store
	$(BIN)/creditscore drift --data $(DATA) --model $(ARTIFACTS)/latest --out $(BUILD)/drift --publish local:$(STORE)

eda: install  ## exploratory report of the demo data, beside its drift report (build/drift/eda_report.html)
	$(BIN)/creditscore eda --data $(DATA) --out $(BUILD)/drift

report: install  ## model card and methodological note of the demo model (build/docs/), with its decisions
	$(BIN)/creditscore report --model $(ARTIFACTS)/latest --out $(BUILD)/docs --store local:$(STORE)

bench: install build  ## speed, size and quality benchmarks (figures in the README)
	$(BIN)/python -m benchmarks.pipeline --out $(BUILD)/bench
	$(BIN)/python -m benchmarks.threshold_rules --out $(BUILD)/bench-thresholds
	$(BIN)/python -m benchmarks.lambda_functions --model $(BUILD)/bench/artifacts/latest \
		--data $(BUILD)/bench/data-307511-48744-0 --out $(BUILD)/bench

mlflow-ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

lock:  ## rewrite requirements-dev.txt from the current .venv
	{ echo "# Locked development environment: make lock regenerates it from .venv."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^creditscore'; \
	  echo "-e .[training,dev,server,score,explain,client,frontend]"; } > requirements-dev.txt

clean:
	rm -rf $(BUILD) .aws-sam .pytest_cache .mypy_cache .ruff_cache
