"""What the sequential track's hard baselines share: each user's train sequence, and a set
of chosen sequences written as a condensed set.

Conventions (`harness.sequences`): a sequential dataset's train rows are its users' train
sequences, every row a positive, each user's rows in that user's order; the original's rows
are in global time order. A condensed hard set is `sequences_frame(sequences, owners)` handed
to `Dataset.with_train`: rows in sequence order, each sequence owned by the user it came from;
dev, test and histories stay the original's (histories are the evaluation contexts).
"""

from __future__ import annotations

import numpy as np

from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.sequences import SEQUENTIAL_KIND, SoftSequences, sequences_frame
from harness.tracks import dataset_kind
from harness.typed import Settings, int_at_least

# L: the sequence length the track's learners read (the last 50 items before a target) and
# the length of a TD3 summary's sequences; the default length of the shaped baselines
DEFAULT_LENGTH = 50


class LengthParams(Settings):
    """``length``: L, the interactions one budget unit (one sequence) stands for."""

    length: int_at_least(1) = DEFAULT_LENGTH


def require_sequential(dataset: Dataset, method: str) -> None:
    """Refuse a dataset of another kind, naming the method and the dataset's kind."""
    kind = dataset_kind(dataset)
    if kind != SEQUENTIAL_KIND:
        raise ConfigError(
            f"{method} condenses {SEQUENTIAL_KIND} data; dataset {dataset.name!r} is {kind}"
        )


def user_sequences(dataset: Dataset) -> dict[int, np.ndarray]:
    """user id -> that user's train items in row order (the user's train sequence)."""
    train = dataset.split("train")
    users = train["user_id"].to_numpy(np.int64)
    items = train["item_id"].to_numpy(np.int64)
    order = np.argsort(users, kind="stable")  # grouped by user, each user's rows in order
    ids, starts = np.unique(users[order], return_index=True)
    if not len(ids):
        return {}
    return dict(zip(ids.tolist(), np.split(items[order], starts[1:]), strict=True))


def sequence_lengths(dataset: Dataset, users: np.ndarray) -> np.ndarray:
    """The train-sequence length of each of `users` (0 for a user without train rows)."""
    counts = dataset.split("train")["user_id"].value_counts()
    return counts.reindex(np.asarray(users, dtype=np.int64), fill_value=0).to_numpy(np.int64)


def sequences_set(
    dataset: Dataset,
    owners: np.ndarray,
    sequences: list[np.ndarray],
    *,
    variant: str,
    meta: dict | None = None,
) -> Dataset:
    """The condensed set whose train split is `sequences`, one per owner, in that order."""
    train = sequences_frame(sequences, np.asarray(owners, dtype=np.int64))
    return dataset.with_train(
        train,
        variant=variant,
        meta={"selected_users": len(owners), "interactions": len(train), **(meta or {})},
    )


def soft_set(
    dataset: Dataset, soft: SoftSequences, *, variant: str, meta: dict | None = None
) -> Dataset:
    """The condensed set whose train set is the soft sequences `soft` (an empty hard split)."""
    empty = sequences_frame([], np.zeros(0, dtype=np.int64))
    return dataset.with_train(empty, variant=variant, soft=soft, meta=meta)


def whole_sequences_set(
    dataset: Dataset, users: np.ndarray, *, variant: str, meta: dict | None = None
) -> Dataset:
    """The whole train sequences of `users` (in the order given) as a condensed set."""
    by_user = user_sequences(dataset)
    users = np.asarray(users, dtype=np.int64)
    return sequences_set(
        dataset, users, [by_user[int(u)] for u in users], variant=variant, meta=meta
    )
