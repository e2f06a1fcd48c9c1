#!/usr/bin/env bash
# Set up everything condbench needs on a fresh machine: a venv with the project and its dev
# tools, plus the Debian packages the tests use (Chromium for the leaderboard test,
# PostgreSQL for the distributed-tuning test). Safe to re-run: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CONDBENCH_VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
# torch first, pinned: an unpinned torch would pull several GB of CUDA wheels.
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[dev]"

if [ "${CONDBENCH_SKIP_APT:-0}" != 1 ]; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing ${need[*]} (apt)" >&2
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "setup: not root; install with: sudo apt-get install ${need[*]}" >&2
    fi
  fi
fi
echo "setup: done ($VENV)" >&2
