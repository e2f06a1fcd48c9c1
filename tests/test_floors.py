"""The floors (.importlinter, docs/architecture.md) are checked, and a breach fails the check."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "condensers", "recommenders", "leaderboard")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_of_the_code(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, target / package,
                        ignore=shutil.ignore_patterns("__pycache__", "templates"))  # fmt: skip
    shutil.copy(REPO / ".importlinter", target / ".importlinter")
    return target


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy, not the installed checkout
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory) -> Path:
    return _copy_of_the_code(tmp_path_factory.mktemp("floors"))


@pytest.mark.parametrize(
    "breach, module, contract",
    [
        ("leaderboard/_breach.py", "harness.run.runner", "Floors"),  # leaderboard never trains
        ("recommenders/_breach.py", "condensers.base", "Floors"),  # a learner under a method
        ("harness/data/_breach.py", "recommenders.trainer", "Floors"),
        ("harness/metrics_breach.py", "harness.data", "Core types"),  # core under everything
    ],
)
def test_an_import_against_a_floor_fails_the_check(code_copy, tmp_path, breach, module, contract):
    tree = _copy_of_the_code(tmp_path / "tree")
    (tree / breach).write_text(f"import {module}  # noqa: F401\n", encoding="utf-8")
    if breach.startswith("harness/metrics_breach"):  # a core module must be listed to be checked
        config = tree / ".importlinter"
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("    harness.metrics\n",
                                       "    harness.metrics\n    harness.metrics_breach\n"))  # fmt: skip
    done = _lint(tree)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout and contract in done.stdout, done.stdout


def test_the_code_as_it_is_keeps_every_contract(code_copy):
    done = _lint(code_copy)
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout


def test_every_core_module_is_under_the_core_contract():
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    listed = set(config["importlinter:contract:core"]["source_modules"].split())
    core = {f"harness.{p.stem}" for p in (REPO / "harness").glob("*.py") if p.stem != "__init__"}
    assert core == listed, f"add to or remove from .importlinter's core list: {core ^ listed}"
