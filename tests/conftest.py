"""Shared fixtures: the data mirror (../shared/data by default) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from factories import find_mirror

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
