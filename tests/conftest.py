"""Shared fixtures: the data mirror (../shared/data by default) and an isolated cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_support import condbench_image, docker_client  # noqa: F401  (fixtures)
from factories import find_mirror, tiny_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mirror() -> Path:
    """$CONDBENCH_MIRROR (default ../shared/data); missing: skip, or fail on CI ($CI)."""
    return find_mirror(os.environ)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so the release is converted once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("CONDBENCH_CACHE", str(root))
    return root


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
