"""A tiny synthetic dataset for fast recommender tests: items whose text says whether
users like them (token 1000 = liked), so a model can learn something in a few steps."""

from __future__ import annotations

import pytest
from factories import LIKED_TOKEN, learnable_dataset

from harness.dataset import Dataset

build_tiny_dataset = learnable_dataset  # the name these tests use
__all__ = ["LIKED_TOKEN", "build_tiny_dataset"]


@pytest.fixture(scope="session")
def tiny_dataset() -> Dataset:
    return build_tiny_dataset()
