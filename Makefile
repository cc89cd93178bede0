# One command to serve (make run), one to test (make test). Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
CHROMIUM := /usr/bin/chromium
# Every target here is for development: read the development defaults in .env
# (the settings read it only when asked; DJANGO_READ_DOT_ENV_FILE=false opts out).
export DJANGO_READ_DOT_ENV_FILE ?= true

.PHONY: run dev test bench soak lint format services migrate static seed clean

run: migrate static seed ## Serve the API with gunicorn on $$PORT (default 8000).
	$(VENV)/bin/gunicorn --config gunicorn.conf.py

dev: migrate seed ## Serve with Django's auto-reloading development server.
	$(MANAGE) runserver $${PORT:-8000}

test: lint services $(CHROMIUM) ## Lint, then run the whole test suite against the real PostgreSQL.
	$(VENV)/bin/pytest

bench: $(VENV)/.bench-installed services ## Benchmark under gunicorn with wrk; PEER_URL=... adds a peer.
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.bench

soak: services ## Mixed traffic at 70% of capacity for SOAK_SECONDS (default 300); 5xx, lost writes, p99, memory.
	$(PY) -m bench.soak

lint: $(VENV)/.installed ## Lint and check formatting.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

# The browser tests drive Debian's Chromium; install it if it is missing (root, apt).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# PostgreSQL and Redis must answer; with a Docker engine, compose.yml starts them.
services: $(VENV)/.installed
	@$(MANAGE) ensure_services || { \
	  if docker info >/dev/null 2>&1; then \
	    echo "Starting PostgreSQL and Redis with docker compose..."; \
	    docker compose up -d --wait && $(MANAGE) ensure_services; \
	  else exit 1; fi; }

migrate: services
	$(MANAGE) migrate --noinput

static: $(VENV)/.installed
	$(MANAGE) collectstatic --noinput --verbosity 0

seed: migrate
	$(MANAGE) seed

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
