"""Reference scorers shown beside every trained result: the floor a model must beat.

- ``chance``: the expected metrics of a uniformly random ranking of each candidate list.
  Computed exactly (every candidate tied, and `harness.metrics` resolves ties by their
  expectation over orders), which is the limit of averaging many seeded random draws.
- ``popularity``: each candidate scored by its number of positive interactions in the
  ORIGINAL train split; no learning. Left out for a dataset published without its train
  split (no positive to count: it would only repeat ``chance``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.dataset import Dataset
from harness.metrics import Metric, ranking_metrics


def chance_scores(candidates: pd.DataFrame, original: Dataset) -> np.ndarray:
    """Every candidate tied: the metrics become their expectation over random orders."""
    return np.zeros(len(candidates))


def popularity_scores(candidates: pd.DataFrame, original: Dataset) -> np.ndarray | None:
    """Number of train positives of each candidate item in the original train split (None
    when that split has no positive)."""
    train = original.split("train")
    counts = train.loc[train["label"] == 1, "item_id"].value_counts()
    if counts.empty:
        return None
    return candidates["item_id"].map(counts).fillna(0).to_numpy(dtype=np.float64)


# scorer name -> function(candidates, original dataset) -> one score per candidate row, or
# None where the scorer has nothing to score with
REFERENCE_SCORERS: dict[str, Callable[[pd.DataFrame, Dataset], np.ndarray | None]] = {
    "chance": chance_scores,
    "popularity": popularity_scores,
}


def reference_metrics(
    dataset: Dataset,
    metrics: Sequence[str | Metric],
    split: str = "test",
    *,
    original: Dataset | None = None,
) -> dict[str, dict[str, float]]:
    """``{"chance": {metric: value}, "popularity": {...}}`` on `dataset`'s `split`.

    `original` is the dataset whose train split counts popularity; by default `dataset`
    itself (pass the original when `dataset` is a condensed set).
    """
    candidates = dataset.split(split)
    source = original if original is not None else dataset
    out = {}
    for name, scorer in REFERENCE_SCORERS.items():
        scores = scorer(candidates, source)
        if scores is None:
            continue
        result = ranking_metrics(
            candidates["group_id"].to_numpy(), candidates["label"].to_numpy(), scores, metrics
        )
        out[name] = result.means()
    return out
