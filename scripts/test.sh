#!/usr/bin/env bash
# The test command: set up (idempotent), lint, check the floors, then run the default (fast) test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${CONDBENCH_VENV:-.venv}
export CONDBENCH_MIRROR=${CONDBENCH_MIRROR:-../shared/data}
"$VENV/bin/ruff" check .
"$VENV/bin/lint-imports" --no-cache  # the floors (.importlinter, docs/architecture.md)
"$VENV/bin/python" -m pytest -q --durations=15 "$@"
