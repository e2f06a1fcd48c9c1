"""Configs that grid over the tiny dataset (`factories.tiny_dataset`) in seconds."""

from __future__ import annotations

from pathlib import Path

import yaml
from factories import TINY_ITEMS, TINY_USERS, tiny_dataset

__all__ = ["TINY_ITEMS", "TINY_USERS", "tiny_config", "tiny_dataset", "write_config"]


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
