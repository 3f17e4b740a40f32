#!/usr/bin/env bash
# The test command: install what is missing, then ruff, mypy and the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/pos -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
