"""Fixtures of the harness tests (helpers live in harness_fixtures.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness_fixtures import tiny_dataset


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "tiny-dataset"
    tiny_dataset().save(folder)
    return folder


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory) -> Iterator[dict]:
    """One SQLite MLflow store for the session, in memory-backed /dev/shm when there is one
    (creating MLflow's tables is many small synced writes: 3x faster there)."""
    from harness.run.tracking import Tracker, default_target

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="condbench-mlflow-", dir=shm))
    else:
        folder = tmp_path_factory.mktemp("mlflow")
    target = default_target(folder, "warm-up")
    assert Tracker(target).connect()
    yield {"uri": target.uri, "artifacts": target.artifact_root}
    shutil.rmtree(folder, ignore_errors=True)
