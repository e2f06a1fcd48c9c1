#!/usr/bin/env bash
# The main job: set up, fetch the TF-DCon MovieLens release and describe it.
# (Grows with the project: it will run configs/movielens.yaml and build the leaderboard.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${CONDBENCH_VENV:-.venv}
export CONDBENCH_MIRROR=${CONDBENCH_MIRROR:-../shared/data}
"$VENV/bin/condbench" data fetch movielens-tfdcon
"$VENV/bin/condbench" data stats movielens-tfdcon
