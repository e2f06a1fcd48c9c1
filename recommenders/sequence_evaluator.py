"""The one evaluator of the sequential track: full ranking over all items.

A trained learner reads each user's context (the last ``max_len`` items before the target:
the original train sequence, and for test also the dev item), scores every item with its
last hidden state, and `harness.full_ranking` masks the context's items (never the target)
and computes the registered metrics. The test split's stored negatives give the secondary
fixed-uni100 figure from the same scores (``secondary={"uni100": {...}}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from harness.dataset import Dataset
from harness.errors import DataError
from harness.full_ranking import (
    SECONDARY_PROTOCOL,
    RankingTask,
    full_ranking_metric_names,
    full_ranking_metrics,
    ranking_task,
    sampled_metrics,
)
from harness.metrics import Metric
from recommenders.sequence_base import SequentialLearner
from recommenders.threads import torch_threads


@dataclass(frozen=True)
class SequentialEvaluation:
    metrics: dict[str, float]
    groups_used: int  # users ranked
    groups_dropped: int
    secondary: dict[str, dict[str, float]] = field(default_factory=dict)  # protocol -> metrics

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def last_states(model: SequentialLearner, contexts: np.ndarray, batch: int) -> torch.Tensor:
    """[U, hidden] last hidden state of each left-padded context row [U, max_len]."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        table = model.item_table()
        chunks = []
        for start in range(0, len(contexts), batch):
            inputs = torch.as_tensor(contexts[start : start + batch], device=device)
            states = model.encode(model.embed(inputs, table), inputs != model.pad)
            chunks.append(states[:, -1])
        if not chunks:
            return torch.empty(0, table.shape[1], device=device)
        return torch.cat(chunks)
    finally:
        model.train(was_training)


@torch.no_grad()
def score_users(model: SequentialLearner, task: RankingTask, batch: int = 1024) -> np.ndarray:
    """[U, n_items] scores of every item for each user of `task`, from their contexts."""
    contexts = task.context_matrix(model.settings.max_len, model.pad)
    states = last_states(model, contexts, batch)
    return model.logits(states, model.item_table()).float().cpu().numpy()


def check_same_items(item_ids: np.ndarray, dataset: Dataset) -> None:
    """The learner's item table must be `dataset`'s (same ids, same order)."""
    ids = dataset.items["item_id"].to_numpy(np.int64)
    if not np.array_equal(np.asarray(item_ids, dtype=np.int64), ids):
        raise DataError(
            f"the learner was trained over {len(item_ids)} items; {dataset.name!r} has another "
            f"item table ({len(ids)} items)",
            file=f"{dataset.name}:items",
        )


def evaluate_sequential(
    trained,
    dataset: Dataset,
    split: str = "test",
    metrics: Sequence[str | Metric] | None = None,
) -> SequentialEvaluation:
    """Full-ranking metrics of a `TrainedSequential` on `dataset`'s `split` (dev or test).

    `metrics` defaults to the track's (`harness.full_ranking.full_ranking_metric_names`).
    On test, the split's stored negatives also give ``secondary["uni100"]``.
    """
    model: SequentialLearner = trained.model
    check_same_items(trained.item_ids, dataset)
    names = list(metrics) if metrics is not None else full_ranking_metric_names(dataset)
    task = ranking_task(dataset, split)
    with torch_threads(trained.settings.threads):  # the training's thread count, on any machine
        scores = score_users(model, task, trained.settings.eval_batch)
    result = full_ranking_metrics(scores, task, names)
    secondary = {}
    if split == "test":
        sampled = sampled_metrics(scores, task, dataset, names)
        if sampled is not None:
            secondary[SECONDARY_PROTOCOL] = sampled
    return SequentialEvaluation(
        metrics=result.metrics,
        groups_used=result.groups_used,
        groups_dropped=result.groups_dropped,
        secondary=secondary,
    )
