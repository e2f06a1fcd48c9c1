"""Shared fixtures: the data mirror (../shared/data by default) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = Path(os.environ.get("CONDBENCH_MIRROR", DEFAULT_MIRROR)).resolve()
    if not (path / "tfdcon-release").is_dir():
        pytest.skip(f"no data mirror at {path} (set CONDBENCH_MIRROR)")
    return path


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
