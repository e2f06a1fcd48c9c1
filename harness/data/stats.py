"""Descriptive figures of a dataset (what `condbench data stats` prints)."""

from __future__ import annotations

import numpy as np

from harness.dataset import SPLITS, Dataset
from harness.sequences import interaction_equivalents, is_sequential, sequence_count, train_kind
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


def sequential_stats(dataset: Dataset) -> dict:
    """A sequential dataset's counts (`harness.sequences`): interactions = train rows plus the
    dev and test targets; the sampled test negatives (label 0) are counted apart."""
    frame = dataset.interactions
    positive = frame["label"] == 1
    train = int((frame["split"] == "train").sum())
    dev = int(((frame["split"] == "dev") & positive).sum())
    test = int(((frame["split"] == "test") & positive).sum())
    return {
        "interactions": train + dev + test,
        "users": int(len(dataset.histories)),
        "items": dataset.num_items,
        "train_interactions": train,
        "dev_targets": dev,
        "test_targets": test,
        "sampled_negatives": int(((frame["split"] == "test") & ~positive).sum()),
        "train_kind": train_kind(dataset),
        "train_sequences": sequence_count(dataset),
        "interaction_equivalents": interaction_equivalents(dataset),
    }


def dataset_stats(dataset: Dataset) -> dict:
    """Users, items, per-split counts and candidate-list lengths, tokens, canonical sizes;
    for a sequential dataset also a ``sequential`` block (`sequential_stats`)."""
    figures = {
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
    if is_sequential(dataset):
        figures["sequential"] = sequential_stats(dataset)
    return figures
