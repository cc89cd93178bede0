#!/usr/bin/env bash
# Install exactly what the lock files pin into a virtualenv, whatever newer releases the
# package index holds today, then check that the result is consistent.
#
#   deploy/install-locked.sh VENV LOCK [LOCK ...]
#
# The locks (requirements*.txt, from `make lock`) name every package, transitive ones
# included, each with `==` and its hashes, so nothing is left to resolve: the install runs
# with --no-deps. (Without it, the pip that Python 3.11 bundles resolves a requirement with
# extras, such as pytest-cov's `coverage[toml]`, against the index, finds a release newer
# than the lock and refuses it under --require-hashes.) The installer is uv, itself pinned
# and hash-checked in requirements-uv.txt and installed first by the venv's own pip: it
# installs the same lock in a fraction of pip's time. `uv pip check` then proves that the
# locked set satisfies every package's own requirements.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 VENV LOCK [LOCK ...]" >&2; exit 2; }
venv=$1
shift
uv_lock="${UV_LOCK_FILE:-$(dirname "${BASH_SOURCE[0]}")/../requirements-uv.txt}"
locked_uv=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$uv_lock")

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
if [ "$("$venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$locked_uv" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --require-hashes -r "$uv_lock"
fi
locks=()
for lock in "$@"; do locks+=(-r "$lock"); done
"$venv/bin/uv" pip install --quiet --python "$venv/bin/python" \
  --no-deps --require-hashes "${locks[@]}"
"$venv/bin/uv" pip check --python "$venv/bin/python"
