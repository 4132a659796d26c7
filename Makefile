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

.PHONY: help install build demo env serve dashboard browser drift eda report test lint typecheck format data train train-full predict bench mlflow-ui lock clean local-image sam-local smoke bench-dashboard

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# Every package comes from the hashed lock (make lock writes it from pyproject.toml's pins),
# then the project itself without dependencies; a lock out of step with pyproject.toml is
# refused before anything is installed (make lock, then commit the locks).
$(STAMP): pyproject.toml requirements-dev.txt requirements/pip.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"' 
	@$(PYTHON) requirements/lock.py --check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/pip.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@# --no-deps: the lock is complete, and pip refuses, in hash-checking mode, a dependency
	@# asked with extras (aws-sam-cli's boto3-stubs[...]) even though the lock pins it.
	$(SAM_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-sam.txt
	touch $(SAM_STAMP)

install: $(STAMP) $(SAM_STAMP)  ## create .venv (+ .venv-sam for the SAM CLI) and install everything (pinned)

build: $(SAM_STAMP)  ## sam validate --lint + sam build (no Docker needed)
	$(SAM) validate --lint --region $(REGION)
	$(SAM) build --region $(REGION)

local-image:  ## Docker engine + the python3.12 Lambda base image for sam local, built offline (root/sudo)
	local-image/build.sh

# SAM_LOCAL_ARGS: more `sam local start-api` options (--port 3001, --debug); settings in
# samconfig.toml [local.*] and events/env/sam-local.json; the store is mounted into the functions.
sam-local: install local-image env  ## sam local start-api on 127.0.0.1:3000 on the local store (after make demo)
	@$(READ_TOKEN); SAM=$(SAM) local-image/sam-local.sh --build $(BUILD)/sam-local/app $(STORE) \
		start-api $(SAM_LOCAL_ARGS)

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
	$(BIN)/mypy functions training monitoring serving benchmarks frontend ops
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions training monitoring serving benchmarks frontend ops

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
	@$(MAKE) --no-print-directory local-image
	$(BIN)/python -m benchmarks.sam_local --app .aws-sam/build --store $(BUILD)/bench/lambda-store --out $(BUILD)/bench
	$(BIN)/python -m benchmarks.load --store $(BUILD)/bench/lambda-store --out $(BUILD)/bench \
		--duration 20 --clients 32 --workers 2
	@$(MAKE) --no-print-directory bench-dashboard

bench-dashboard: install browser  ## the dashboard's first screen in Chromium, 0 and 1000 ms added to each API call
	@test -d $(BUILD)/bench/lambda-store || { echo "make bench-dashboard: no $(BUILD)/bench/lambda-store (make bench publishes it)" >&2; exit 1; }
	$(BIN)/python -m benchmarks.dashboard --store $(BUILD)/bench/lambda-store --out $(BUILD)/bench-dashboard

# API_URL: the API to check (a stage's ApiUrl output, or the local server); the token is
# API_TOKEN (.env for the local server) or the Cognito smoke-test user's SMOKE_* variables.
SMOKE_MAX_P99_MS ?= 2000
smoke: install  ## after a deployment: /health, scores (p99 bound) and one explanation (API_URL=...)
	@$(READ_TOKEN); [ -n "$$API_TOKEN" ] || unset API_TOKEN; \
	$(BIN)/python -m ops.smoke --api-url $(API_URL) --max-p99-ms $(SMOKE_MAX_P99_MS) \
		--out $(BUILD)/smoke/summary.json

mlflow-ui: install  ## open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

lock:  ## write every hashed lock again from the pins of pyproject.toml (UPGRADE=1: newest transitive pins)
	@$(MAKE) --no-print-directory $(UV_STAMP)
	$(PYTHON) requirements/lock.py --uv $(CURDIR)/$(UV_VENV)/bin/uv $(if $(UPGRADE),--upgrade)

clean:
	rm -rf $(BUILD) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# ---------------------------------------------------------------- supply chain
# make lock runs uv from its own small venv: it must work while .venv is out of step.
UV_VENV := .venv-uv
UV_STAMP := $(UV_VENV)/.installed
# The locks that hold packages (requirements/lock.py knows them all).
LOCKS = $(shell $(PYTHON) requirements/lock.py --list)
SBOM_DIR ?= $(BUILD)/sbom
.PHONY: audit sbom secrets-scan

$(UV_STAMP): requirements/uv.txt
	test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/uv.txt
	touch $(UV_STAMP)

# pip-audit reads the pins and hashes of the locks as they are (--disable-pip: no resolution)
# and asks PyPI's advisory database. Unreachable (offline), it says so and, outside CI, stops
# there without failing; in CI (CI=true) that is a failure, as is any known vulnerability.
audit: $(STAMP)  ## known vulnerabilities of every locked package (pip-audit on the locks; needs PyPI)
	@# pip-audit asks PyPI's JSON API for each pinned version (/pypi/<name>/<version>/json);
	@# a mirror or proxy that lacks that API makes every package "not found": say so.
	@# One lock at a time: the SAM CLI's venv pins other versions than the project's.
	@# --strict: a package that could not be audited fails the audit too.
	@if ! $(BIN)/python -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/pypi/pip/25.3/json", timeout=15)' 2>/dev/null; then \
		echo "make audit: PyPI's vulnerability data (its JSON API) is unreachable from here: NO AUDIT WAS DONE" >&2; \
		[ -z "$$CI" ] || exit 1; exit 0; fi; \
	status=0; for lock in $(LOCKS); do echo "make audit: $$lock"; \
		$(BIN)/pip-audit --progress-spinner off --strict --disable-pip --require-hashes -r "$$lock" \
			|| status=1; \
	done; exit $$status

sbom: $(STAMP)  ## CycloneDX SBOM of every lock (build/sbom/*.cdx.json)
	mkdir -p $(SBOM_DIR)
	@for lock in $(LOCKS); do \
		name=$$(echo "$${lock%.txt}" | tr '/' '-'); \
		$(BIN)/cyclonedx-py requirements --of JSON --output-reproducible \
			-o "$(SBOM_DIR)/$$name.cdx.json" "$$lock" || exit 1; \
		echo "make sbom: $(SBOM_DIR)/$$name.cdx.json ($$lock)"; done

# detect-secrets on every tracked file. Its allowlist is the filters of .secrets.baseline (no
# finding is recorded there, so no line numbers go stale): the sample events' dummy JWT
# ({"kid":"example"}.{"sub":"example"}), moto's "testing" credentials, sha256/sha512 digests
# of files, `GenerateSecret: false` and the "Secretaries" occupation label; anything else it
# finds fails the scan. A new false positive: `# pragma: allowlist secret` on its line.
secrets-scan: $(STAMP)  ## look for secrets in every tracked file (detect-secrets, .secrets.baseline)
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline
	@echo "make secrets-scan: no secret found outside the allowlist of .secrets.baseline"
