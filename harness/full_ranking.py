"""Full ranking, the sequential track's protocol (design/sequential-track.md, Protocol).

Every user of a split has one target item (the split's label-1 row). A learner scores ALL
items for the user; the items the user touched before the target are masked: the train
history (``Dataset.histories``, the user's original train sequence) and, for test, also
the dev item. The target itself is never masked. Each user is one ranking group of the
unmasked items, label 1 on the target, and the metrics are the registered ones of
`harness.metrics.ranking_metrics` (HR@K, NDCG@K, MRR@K, ...; ties resolved by expectation).

- `ranking_task(dataset, split)`: the users, their targets and their contexts (the items
  seen before the target, in order: what a sequential learner reads, and what is masked).
- `full_ranking_metrics(scores, task, metrics)`: metrics of a [users, items] score matrix.
- Floors (`full_ranking_reference`): ``chance`` (constant scores: every unmasked item tied,
  so each metric is its exact expectation over a uniformly random ranking, e.g.
  HR@K = K / unmasked items) and ``popularity`` (each item's count in the ORIGINAL train
  split; seen items masked as for a learner).
- `sampled_metrics`: the secondary fixed-uni100 figure: the test split's own candidates
  (target + its stored label-0 negatives, one group per user) scored from the same matrix.

Item rows are positions in ``dataset.items`` (the order soft sets index items by).
NumPy only: a core module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harness.dataset import Dataset
from harness.errors import DataError
from harness.metrics import Metric, ranking_metrics

SECONDARY_PROTOCOL = "uni100"  # the fixed sampled negatives stored with the test split


def item_rows(dataset: Dataset, item_ids: Sequence[int] | np.ndarray, source: str) -> np.ndarray:
    """Rows in ``dataset.items`` of `item_ids`; an unknown id is a `DataError` naming it."""
    index = pd.Index(dataset.items["item_id"].to_numpy(np.int64))
    ids = np.asarray(item_ids, dtype=np.int64)
    rows = index.get_indexer(ids)
    if (rows < 0).any():
        unknown = int(ids[rows < 0][0])
        raise DataError(f"item {unknown} is not in the item table", file=source)
    return rows.astype(np.int64)


@dataclass(frozen=True)
class RankingTask:
    """The users of one split, in user-id order, with what full ranking needs of each."""

    split: str
    user_ids: np.ndarray  # [U]
    targets: np.ndarray  # [U] item row of each user's target
    contexts: tuple[np.ndarray, ...]  # per user: item rows seen before the target, in order
    num_items: int

    def __len__(self) -> int:
        return len(self.user_ids)

    def seen(self) -> np.ndarray:
        """[U, items] True on the masked items: the context's, never the target."""
        mask = np.zeros((len(self), self.num_items), dtype=bool)
        lengths = np.fromiter((len(c) for c in self.contexts), dtype=np.int64, count=len(self))
        if lengths.sum():
            mask[np.repeat(np.arange(len(self)), lengths), np.concatenate(self.contexts)] = True
        mask[np.arange(len(self)), self.targets] = False
        return mask

    def context_matrix(self, length: int, pad: int) -> np.ndarray:
        """[U, length] the last `length` context rows of each user, left-padded with `pad`
        (so the latest item is always in the last column)."""
        out = np.full((len(self), length), pad, dtype=np.int64)
        for row, context in enumerate(self.contexts):
            tail = context[-length:]
            if len(tail):
                out[row, length - len(tail) :] = tail
        return out


def _one_target_per_user(frame: pd.DataFrame, split: str, source: str) -> pd.DataFrame:
    targets = frame[frame["label"] == 1]
    counts = targets["user_id"].value_counts()
    if (counts > 1).any():
        user = int(counts[counts > 1].index[0])
        raise DataError(
            f"{split}: user {user} has {int(counts[user])} targets; full ranking takes one per user",
            file=source,
        )
    return targets.sort_values("user_id", kind="stable")


def ranking_task(dataset: Dataset, split: str) -> RankingTask:
    """Targets and contexts of `split` ("dev" or "test"): context = the user's history
    (original train sequence), and for test also the user's dev item."""
    if split not in ("dev", "test"):
        raise ValueError(f"full ranking scores dev or test, not {split!r}")
    source = f"{dataset.name}:{split}"
    targets = _one_target_per_user(dataset.split(split), split, source)
    users = targets["user_id"].to_numpy(np.int64)
    history = dataset.history_of()
    later: dict[int, list[int]] = {}
    if split == "test":
        dev = _one_target_per_user(dataset.split("dev"), "dev", f"{dataset.name}:dev")
        later = {int(u): [int(i)] for u, i in zip(dev["user_id"], dev["item_id"], strict=True)}
    contexts = tuple(
        item_rows(dataset, list(history.get(int(u), [])) + later.get(int(u), []), source)
        for u in users
    )
    return RankingTask(
        split=split,
        user_ids=users,
        targets=item_rows(dataset, targets["item_id"].to_numpy(np.int64), source),
        contexts=contexts,
        num_items=dataset.num_items,
    )


@dataclass(frozen=True)
class RankingResult:
    """Mean metrics over the users used (a user with no unmasked non-target item is dropped)."""

    metrics: dict[str, float]
    groups_used: int
    groups_dropped: int

    def to_dict(self) -> dict:
        return asdict(self)


def full_ranking_metrics(
    scores: np.ndarray, task: RankingTask, metrics: Sequence[str | Metric]
) -> RankingResult:
    """`metrics` of a [users, items] score matrix (rows in `task` order), seen items masked."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(task), task.num_items):
        raise ValueError(f"scores must be [{len(task)}, {task.num_items}], got {scores.shape}")
    users, items = np.nonzero(~task.seen())
    result = ranking_metrics(users, items == task.targets[users], scores[users, items], metrics)
    return RankingResult(
        metrics=result.means(),
        groups_used=len(result.group_ids),
        groups_dropped=result.groups_dropped,
    )


def sampled_metrics(
    scores: np.ndarray, task: RankingTask, dataset: Dataset, metrics: Sequence[str | Metric]
) -> dict[str, float] | None:
    """The secondary sampled figure on `task`'s split: each user's stored candidates (the
    target and its label-0 negatives, one group per ``group_id``), scored from the same
    [users, items] matrix. None when the split stores no negatives."""
    frame = dataset.split(task.split)
    if not (frame["label"] == 0).any():
        return None
    source = f"{dataset.name}:{task.split}"
    user_row = pd.Index(task.user_ids).get_indexer(frame["user_id"].to_numpy(np.int64))
    if (user_row < 0).any():
        user = int(frame["user_id"].to_numpy()[user_row < 0][0])
        raise DataError(f"user {user} has candidates but no target", file=source)
    rows = item_rows(dataset, frame["item_id"].to_numpy(np.int64), source)
    candidate_scores = np.asarray(scores, dtype=np.float64)[user_row, rows]
    result = ranking_metrics(
        frame["group_id"].to_numpy(), frame["label"].to_numpy(), candidate_scores, metrics
    )
    return result.means()


# ---- the floors --------------------------------------------------------------------------


def chance_scores(task: RankingTask, original: Dataset) -> np.ndarray:
    """Every item tied: each metric becomes its exact expectation over random rankings."""
    return np.zeros((len(task), task.num_items))


def popularity_scores(task: RankingTask, original: Dataset) -> np.ndarray:
    """Each item's count in the original train split, the same for every user."""
    train = original.split("train")
    rows = item_rows(original, train["item_id"].to_numpy(np.int64), f"{original.name}:train")
    counts = np.bincount(rows, minlength=task.num_items).astype(np.float64)
    return np.broadcast_to(counts, (len(task), task.num_items))


FULL_RANKING_FLOORS = {"chance": chance_scores, "popularity": popularity_scores}


def full_ranking_reference(
    dataset: Dataset,
    metrics: Sequence[str | Metric],
    split: str = "test",
    *,
    original: Dataset | None = None,
) -> dict[str, dict[str, float]]:
    """``{"chance": {metric: value}, "popularity": {...}}`` by full ranking on `split`.

    `original` counts popularity (default `dataset`: pass the original for a condensed set).
    """
    task = ranking_task(dataset, split)
    source = original if original is not None else dataset
    return {
        name: full_ranking_metrics(scorer(task, source), task, metrics).metrics
        for name, scorer in FULL_RANKING_FLOORS.items()
    }


# ---- the metrics the track reports -------------------------------------------------------

DEFAULT_SEQUENCE_CUTOFFS = (10, 20)


def full_ranking_metric_names(dataset: Dataset) -> list[str]:
    """HR@K and NDCG@K for each of the dataset's cutoffs (``meta["cutoffs"]``, default
    10 and 20), then MRR at the first cutoff: HR@10, HR@20, NDCG@10, NDCG@20, MRR@10."""
    cutoffs = [int(k) for k in dataset.meta.get("cutoffs") or DEFAULT_SEQUENCE_CUTOFFS]
    return [f"HR@{k}" for k in cutoffs] + [f"NDCG@{k}" for k in cutoffs] + [f"MRR@{cutoffs[0]}"]
