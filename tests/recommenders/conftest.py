"""A tiny synthetic dataset for fast recommender tests: items whose text says whether
users like them (token 1000 = liked), so a model can learn something in a few steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.dataset import Dataset

LIKED_TOKEN = 1000


def build_tiny_dataset(
    seed: int = 0, items: int = 40, users: int = 30, name: str = "tiny-synthetic"
) -> Dataset:
    rng = np.random.default_rng(seed)
    liked = rng.random(items) < 0.4
    titles = [
        ([LIKED_TOKEN] if liked[i] else [1001])
        + rng.integers(2000, 2100, size=rng.integers(1, 5)).tolist()
        for i in range(items)
    ]
    tags = [[3000 + int(i % 3)] for i in range(items)]
    item_frame = pd.DataFrame({"item_id": np.arange(items) + 100, "title": titles, "tag": tags})
    histories = pd.DataFrame(
        {
            "user_id": np.arange(users),
            "history": [
                (rng.choice(items, size=3, replace=False) + 100).tolist() for _ in range(users)
            ],
        }
    )
    rows = []
    for split, per_user in (("train", 10), ("dev", 5), ("test", 6)):
        for user in range(users):
            shown = rng.choice(items, size=per_user, replace=False)
            for item in shown:
                clicked = rng.random() < (0.85 if liked[item] else 0.15)
                rows.append((split, user, int(item) + 100, int(clicked), user))
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    dataset = Dataset(
        name=name,
        items=item_frame,
        text_fields=("title", "tag"),
        histories=histories,
        interactions=interactions,
        meta={"variant": "original"},
    )
    dataset.validate()
    return dataset


@pytest.fixture(scope="session")
def tiny_dataset() -> Dataset:
    return build_tiny_dataset()
