"""Run `condbench` as a user does: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def condbench_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


def condbench_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "CONDBENCH_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}


def run_condbench(
    *args: str | Path, cache: Path, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        condbench_argv(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=condbench_env(cache),
    )


def invoke_condbench(*args: str | Path):
    """The real CLI in this process (no interpreter start-up): a click `Result`."""
    from click.testing import CliRunner

    from harness.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
