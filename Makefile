# Pies: the two commands are `make run` and `make test`.
# With DATABASE_URL / REDIS_URL unset, both start embedded PostgreSQL and Redis from the
# virtualenv (pieproject/devservers.py), data under .data/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WITH_SERVERS := $(PY) -m pieproject.devservers --
PYTEST_WORKERS ?= 2
# CI sets JUNIT_DIR: each test stage then writes its JUnit XML there (.ci/summarize.py sums them).
JUNIT = $(if $(JUNIT_DIR),--junitxml=$(JUNIT_DIR)/$@.xml)

.PHONY: venv run test test-faults fuzz lint lint-ruff-check lint-ruff-format lint-migrations \
	lint-mypy format bench bench-daily bench-web screenshots clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(VENV)/.test-deps

$(VENV)/.run-deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	DEBUG=$${DEBUG:-1} $(WITH_SERVERS) sh -c '\
	  $(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py seed_demo && \
	  $(PY) manage.py welcome && \
	  exec $(VENV)/bin/honcho start -f Procfile'

# The main suite: unit, property, integration (PostgreSQL, Redis, Celery) and browser tests.
# Coverage of the money rules is enforced at 100 % of branches.
test: $(VENV)/.test-deps
	rm -f .coverage .coverage.*
	$(WITH_SERVERS) $(PY) -m pytest -n $(PYTEST_WORKERS) -m "not faults" \
	  --cov --cov-report= $(JUNIT) $(PYTEST_ARGS)
	$(PY) -m coverage report --include=pies/allocation.py,trading/lots.py --fail-under=100 --show-missing

# The thorough run (CI runs it after `make test`): the fault-injection tests, and the
# Hypothesis properties at the full 1,000 examples and the engine's state machine at its full
# size ("full" profile, tests/conftest.py; `make test` runs them at 300 and the small size).
# pytest exits 5 when nothing is selected: that is not a failure of this target.
test-faults: $(VENV)/.test-deps
	HYPOTHESIS_PROFILE=full $(WITH_SERVERS) sh -c '$(PY) -m pytest -m "faults or properties" -p no:cacheprovider $(JUNIT) $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no fault-injection tests collected"; exit 0; fi; exit $$rc'

fuzz: $(VENV)/.test-deps
	FUZZ_JUNIT=$(if $(JUNIT_DIR),$(JUNIT_DIR)/fuzz.xml) $(WITH_SERVERS) $(PY) -m tests.fuzz.run_schemathesis

lint: lint-ruff-check lint-ruff-format lint-migrations lint-mypy

lint-ruff-check: $(VENV)/.test-deps
	$(PY) -m ruff check .

lint-ruff-format: $(VENV)/.test-deps
	$(PY) -m ruff format --check .

lint-migrations: $(VENV)/.test-deps
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Types of pies, trading and pieproject ([tool.mypy] in pyproject.toml); the Django plugin
# reads the settings, hence DEBUG=1 (no SECRET_KEY needed).
lint-mypy: $(VENV)/.test-deps
	DEBUG=1 $(PY) -m mypy

format: $(VENV)/.test-deps
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(VENV)/.test-deps
	$(PY) bench/allocation.py
	$(WITH_SERVERS) sh -c '$(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py bench_trade_window --accounts 1000 --slices 10 --seed 1'

# The daily jobs (performance.md section 4): snapshot, a year's backfill, recurring deposits.
bench-daily: $(VENV)/.test-deps
	$(WITH_SERVERS) sh -c '$(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py bench_daily_jobs --accounts 10000 --days 365'

# The web pages under load: gunicorn (2 workers, DEBUG off) and wrk (bench/web.sh).
bench-web: $(VENV)/.test-deps
	$(WITH_SERVERS) sh bench/web.sh

screenshots: $(VENV)/.test-deps
	PIES_SCREENSHOT_DIR=docs/screenshots $(WITH_SERVERS) $(PY) -m pytest -m browser -p no:xdist -p no:cacheprovider $(PYTEST_ARGS) tests/browser

clean:
	rm -rf .coverage .coverage.* htmlcov .pytest_cache test-artifacts staticfiles
