"""Descriptive figures of a dataset (what `condbench data stats` prints)."""

from __future__ import annotations

import numpy as np

from harness.dataset import SPLITS, Dataset
from harness.sizes import canonical_sizes


def split_stats(dataset: Dataset, split: str) -> dict:
    frame = dataset.split(split)
    group_sizes = (
        frame.groupby("group_id").size().to_numpy() if len(frame) else np.zeros(0, dtype=int)
    )
    candidates = (
        {
            "min": int(group_sizes.min()),
            "median": float(np.median(group_sizes)),
            "max": int(group_sizes.max()),
            "mean": round(float(group_sizes.mean()), 3),
        }
        if len(group_sizes)
        else {"min": 0, "median": 0.0, "max": 0, "mean": 0.0}
    )
    return {
        "interactions": len(frame),
        "users": int(frame["user_id"].nunique()),
        "positives": int((frame["label"] == 1).sum()),
        "groups": len(group_sizes),
        "candidates": candidates,
    }


def average_tokens_per_item(dataset: Dataset) -> float:
    if not len(dataset.items):
        return 0.0
    lengths = np.zeros(len(dataset.items), dtype=np.int64)
    for field in dataset.text_fields:
        lengths += dataset.items[field].map(len).to_numpy()
    return round(float(lengths.mean()), 3)


def dataset_stats(dataset: Dataset) -> dict:
    """Users, items, per-split counts and candidate-list lengths, tokens, canonical sizes."""
    return {
        "dataset": dataset.name,
        "variant": dataset.variant,
        "items": dataset.num_items,
        "users": int(len(dataset.histories)),
        "text_fields": list(dataset.text_fields),
        "avg_tokens_per_item": average_tokens_per_item(dataset),
        "splits": {split: split_stats(dataset, split) for split in SPLITS},
        "train_size_kb": canonical_sizes(dataset).as_dict(),
        "source_counts": dataset.meta.get("source_counts"),
    }
