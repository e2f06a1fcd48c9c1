"""A tiny real dataset (saved with Dataset.save) and configs that grid over it in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from harness.dataset import Dataset

TINY_USERS = 24
TINY_ITEMS = 30


def tiny_dataset(seed: int = 0) -> Dataset:
    """24 users, 30 items with 3-6 word-piece tokens each; every user has train/dev/test rows.

    Items 0-9 are "popular" (most positives), so a model has something to learn.
    """
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": np.arange(TINY_ITEMS, dtype=np.int64),
            "title": [
                list(map(int, rng.integers(2000, 2100, size=rng.integers(3, 7))))
                for _ in range(TINY_ITEMS)
            ],
        }
    )
    rows, histories = [], []
    for user in range(TINY_USERS):
        order = rng.permutation(TINY_ITEMS)
        popular = [i for i in order if i < 10]
        rest = [i for i in order if i >= 10]
        histories.append({"user_id": user, "history": [int(i) for i in popular[:3]]})
        plan = {
            "train": (popular[3:6], rest[:4]),
            "dev": (popular[6:8], rest[4:7]),
            "test": (popular[8:10], rest[7:10]),
        }
        for split, (positives, negatives) in plan.items():
            rows += [(split, user, int(i), 1, user) for i in positives]
            rows += [(split, user, int(i), 0, user) for i in negatives]
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    return Dataset(
        name="tiny",
        items=items,
        text_fields=("title",),
        histories=pd.DataFrame(histories),
        interactions=interactions,
        meta={"name": "tiny", "variant": "original", "version": "1"},
    )


def tiny_config(folder: Path, **overrides) -> dict:
    """A grid of 2 condensers x 1 model x 2 seeds over the tiny dataset, 1-2 epochs each."""
    config = {
        "name": "tiny",
        "grid": {
            "datasets": [str(folder)],
            "condensers": [
                {"name": "original"},
                {"name": "random", "budgets": [8], "params": {"text_tokens": 3}},
            ],
            "recommenders": ["naml"],
            "seeds": [0, 1],
        },
        "training": {"max_epochs": 2, "batch_size": 32, "patience": 1, "threads": 1},
        "tuning": {
            "condenser": "random",
            "budget": 8,
            "recommender": "naml",
            "trials": 3,
            "space": {"text_tokens": {"low": 2, "high": 6}},
        },
    }
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
