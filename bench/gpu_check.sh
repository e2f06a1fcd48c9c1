#!/usr/bin/env bash
# The GPU path, proven (issue 18): versions, `pytest -m gpu`, NAML/NRMS one epoch on
# MIND-small-shaped data, CPU/GPU metric agreement on MovieLens; JSON into $OUT or --out.
#
#   CONDBENCH_MIRROR=../shared/data bash bench/gpu_check.sh [--scale 0.2] [--out DIR]
#   bash bench/gpu_check.sh --device cpu --tiny        # a dry run of the same steps, no GPU
#
# Exit 0: all checks passed; 1: a check failed; 2: no CUDA device (one line, nothing run).
# Runs from the repository root with this checkout's code first on the path; the
# interpreter is $PYTHON, else .venv/bin/python when there is one, else python3.
# See bench/gpu_check.py and docs/benchmarks.md ("GPU check").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" bench/gpu_check.py "$@"
