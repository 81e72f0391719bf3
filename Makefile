# Entrepot. Two commands: `make run` (local stack on SQLite) and `make test` (the suite on
# PostgreSQL and Redis). Both create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: run test install services browser lint redis-stop redis-start bench-credit bench-grade-latency bench-search bench-latency clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	mkdir -p .run
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.local $(PY) manage.py seed_demo
	@echo ""
	@echo "Entrepot is starting at http://127.0.0.1:8000/  (API docs: http://127.0.0.1:8000/api/docs/). Ctrl-C stops everything."
	@echo ""
	DJANGO_SETTINGS_MODULE=config.settings.local $(VENV)/bin/honcho -d . -f platform/Procfile start

# Stop and start the local stack's Redis while `make run` is running, to see the platform
# without it: the pages still render and /healthz answers 503 naming Redis.
redis-stop: install
	$(PY) -c 'import redis; redis.Redis(port=6390).shutdown(nosave=True)' 2>/dev/null || true
	@echo "Redis stopped. Try: curl -i http://127.0.0.1:8000/healthz"

redis-start:
	touch .run/redis.restart

services:
	bash platform/scripts/ensure-services.sh

browser:
	bash platform/scripts/ensure-browser.sh

test: install services browser
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest --create-db $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

bench-credit: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/credit_recompute.py $(SCALE)

bench-grade-latency: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/event_to_grade.py $(N)

bench-search: install services
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) bench/registry_search.py $(SCALE)

clean:
	rm -rf .run staticfiles db.sqlite3*
