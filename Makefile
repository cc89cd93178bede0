# One command to serve (make run), one to test (make test). Both set up everything first.
SHELL := /bin/bash
# The interpreter the virtualenv is made from: Debian's python3.11 where it is installed with
# its venv module, else python3. Debian's has the interpreter linked into its executable and
# is built for speed, as the container image's is; a Python compiled from source with the
# defaults (pyenv's: a shared libpython, no --enable-optimizations) spends more CPU on every
# request (docs/performance.md, "The interpreter"). Any Python 3.11 works: PYTHON=python3.
# A virtualenv made earlier keeps its interpreter until `make clean`.
DEBIAN_PYTHON := /usr/bin/python3.11
PYTHON ?= $(shell $(DEBIAN_PYTHON) -c 'import ensurepip' 2>/dev/null && echo $(DEBIAN_PYTHON) || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
CHROMIUM := /usr/bin/chromium
PGBOUNCER := /usr/sbin/pgbouncer
# Every target here is for development: read the development defaults in .env
# (the settings read it only when asked; DJANGO_READ_DOT_ENV_FILE=false opts out).
export DJANGO_READ_DOT_ENV_FILE ?= true

.PHONY: run dev test docs bench soak profile instructions lint format lock services migrate static seed clean cluster cluster-stop backup backups restore backup-delete

run: migrate static seed ## Serve the API with gunicorn on $$PORT (default 8000).
	$(VENV)/bin/gunicorn --config gunicorn.conf.py

dev: migrate seed ## Serve with Django's auto-reloading development server.
	$(MANAGE) runserver $${PORT:-8000}

# Two pytest-xdist workers: much of the suite waits (on gunicorn, PostgreSQL, browsers), and
# each worker has its own test database. Then the cluster's tests (fixed ports, failovers timed
# against the clock) on a machine left to them, their coverage added to the rest's.
TEST_WORKERS ?= 2
CLUSTER_TESTS := notes/tests/test_cluster.py notes/tests/test_backups.py

test: lint docs services static $(CHROMIUM) $(PGBOUNCER) ## Lint, then run the whole test suite against the real PostgreSQL.
	$(VENV)/bin/pytest -n $(TEST_WORKERS) $(addprefix --ignore=,$(CLUSTER_TESTS)) --cov --cov-report=
	$(VENV)/bin/pytest $(CLUSTER_TESTS) --cov --cov-append --cov-report=term:skip-covered

docs: $(VENV)/.installed ## Build the documentation site into site/ (MkDocs Material).
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(VENV)/.bench-installed services ## Benchmark under gunicorn with wrk; PEER_URL=... adds a peer.
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.bench

soak: services ## Mixed traffic at 70% of capacity for SOAK_SECONDS (default 300); 5xx, lost writes, p99, memory.
	$(PY) -m bench.soak

profile: $(VENV)/.installed services ## CPU µs per request in process (health, GET, PUT, POST).
	$(PY) -m bench.profile

instructions: $(VENV)/.installed services ## Instructions per request in process (callgrind): noise-free.
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(PY) -m bench.profile instructions

# More than one machine on this one (docs/cluster.md): an etcd of three, two PostgreSQL members
# under Patroni (primary and synchronous replica, automatic failover), PgBouncer, two instances
# and HAProxy on 127.0.0.1; needs root (apt, PostgreSQL runs as postgres). Run again, it restarts
# whatever is down and keeps what runs.
cluster: $(VENV)/.installed ## Start the cluster (or what of it is down); ready once HAProxy on :8080 answers /health/ready.
	bash deploy/cluster/cluster.sh up

cluster-stop: ## Stop everything `make cluster` started and delete its data, etcd's included (not the backups).
	bash deploy/cluster/cluster.sh down

# Backups of the cluster (docs/backups.md): pgBackRest archives every change from whichever
# member leads, into a repository that `make cluster-stop` keeps.
TYPE ?= full
backup: ## Take a backup of the cluster (TYPE=full, diff or incr), then verify the repository.
	bash deploy/cluster/cluster.sh backup $(TYPE)

backups: ## List the cluster's backups.
	bash deploy/cluster/cluster.sh backups

restore: $(VENV)/.installed ## Bring the cluster back to TARGET="<timestamp with zone>" or TARGET=latest (CONFIRM=yes: no question).
	bash deploy/cluster/cluster.sh restore "$(TARGET)"

backup-delete: ## Delete the backup repository, once the cluster is stopped (CONFIRM=yes: no question).
	bash deploy/cluster/cluster.sh backup-delete

lint: $(VENV)/.installed ## Lint, check formatting and types, and that no migration is missing.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MANAGE) makemigrations --check --dry-run

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The requirements*.txt files are compiled from requirements*.in by `make lock`: every
# package pinned, with the hashes pip checks. deploy/install-locked.sh installs exactly
# that, with no dependency resolution, then runs `pip check` (README, "Installing").
INSTALL := PYTHON=$(PYTHON) bash deploy/install-locked.sh $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-uv.txt deploy/install-locked.sh
	$(INSTALL) requirements-dev.txt
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(INSTALL) requirements-bench.txt
	touch $@

# Each file is compiled against the one before it (-c), so the runtime has the
# same versions everywhere. Existing pins are kept; UPGRADE=1 takes the newest.
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

lock: $(VENV)/.installed ## Re-pin requirements*.txt, with hashes, from requirements*.in.
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt
	$(LOCK) requirements-bench.in -o requirements-bench.txt
	$(LOCK) requirements-uv.in -o requirements-uv.txt

# The browser tests drive Debian's Chromium; install it if it is missing (root, apt).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# test_pgbouncer.py runs a PgBouncer of its own (Debian's); install it if it is missing (root, apt).
$(PGBOUNCER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer

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
	rm -rf $(VENV) staticfiles site .pytest_cache .ruff_cache .mypy_cache .coverage
