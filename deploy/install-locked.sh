#!/usr/bin/env bash
# Install exactly what the lock files pin into a virtualenv, whatever newer releases the
# package index holds today, then check that the result is consistent.
#
#   deploy/install-locked.sh VENV LOCK [LOCK ...]
#
# The locks (requirements*.txt, from `make lock`) name every package, transitive ones
# included, each with `==` and its hashes. So nothing is left to resolve, and pip runs with
# --no-deps: without it, pip (23.x, the one Python 3.11 bundles) resolves a requirement with
# extras, such as pytest-cov's `coverage[toml]`, against the index, finds a release newer
# than the lock and refuses it under --require-hashes. `pip check` then proves that the
# locked set satisfies every package's own requirements.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 VENV LOCK [LOCK ...]" >&2; exit 2; }
venv=$1
shift
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
locks=()
for lock in "$@"; do locks+=(-r "$lock"); done
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-deps --require-hashes "${locks[@]}"
"$venv/bin/python" -m pip check --disable-pip-version-check
