"""Training examples of a sequential train set, and the batches of one epoch.

The loss is a causal cross-entropy over all positions over ALL items
(design/sequential-track.md): at every position the learner predicts the next item.

- **hard** sets (`harness.sequences.hard_sequences`): each sequence is cut into windows of
  ``max_len + 1`` items from its end, consecutive windows sharing one item, so every
  interaction after a sequence's first is a target exactly once; a window's first
  ``max_len`` items are its input, its last ``max_len`` its targets (one-hot).
- **soft** sets (``dataset.soft.probs()``, P [S, L, n]): input positions ``:L-1``,
  targets ``1:`` (soft targets), windowed the same way when ``L - 1 > max_len``.

Windows shorter than ``max_len`` are left-padded (hard: the padding row ``n_items``; soft:
a zero row), so the latest position is always the last column, as in dev and test.
Building is deterministic; an epoch's order comes from the trainer's seeded generator
(`epoch_batches`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.dataset import Dataset
from harness.errors import DataError
from harness.full_ranking import item_rows
from harness.sequences import HARD, SOFT, hard_sequences, train_kind

IGNORE = -100  # the target of a padded position (torch's cross-entropy ignore index)


@dataclass(frozen=True)
class TrainingExamples:
    """Windows of a train set, all ``max_len`` long, left-padded.

    hard: ``inputs`` int64 [N, max_len] item rows (pad = ``num_items``), ``targets`` int64
    [N, max_len] (`IGNORE` at padding); soft: both float32 [N, max_len, num_items] (zero
    rows at padding). ``valid`` bool [N, max_len]: the positions with a target.
    """

    kind: str
    inputs: np.ndarray
    targets: np.ndarray
    valid: np.ndarray
    num_items: int

    def __len__(self) -> int:
        return len(self.valid)

    @property
    def target_count(self) -> int:
        """Positions with a target: the interactions (or soft interaction-equivalents) learned from."""
        return int(self.valid.sum())


def windows(length: int, max_len: int) -> list[tuple[int, int]]:
    """(start, end) of the windows of a sequence of `length` items, latest first: each at
    most ``max_len + 1`` items, consecutive windows sharing one item; together their
    targets (start + 1 .. end - 1) cover items 1 .. length - 1 once."""
    out = []
    end = length
    while end >= 2:
        start = max(0, end - max_len - 1)
        out.append((start, end))
        end = start + 1
    return out


def _left_pad(values: np.ndarray, length: int, fill) -> np.ndarray:
    out = np.full((length, *values.shape[1:]), fill, dtype=values.dtype)
    if len(values):
        out[length - len(values) :] = values
    return out


def hard_examples(dataset: Dataset, max_len: int) -> TrainingExamples:
    """Windows of the hard sequences of `dataset`'s train split."""
    _, sequences = hard_sequences(dataset)
    pad = dataset.num_items
    inputs, targets, valid = [], [], []
    for items in sequences:
        rows = item_rows(dataset, items, f"{dataset.name}:train")
        for start, end in windows(len(rows), max_len):
            inputs.append(_left_pad(rows[start : end - 1], max_len, pad))
            targets.append(_left_pad(rows[start + 1 : end], max_len, IGNORE))
            valid.append(_left_pad(np.ones(end - start - 1, dtype=bool), max_len, False))
    return _stack(HARD, inputs, targets, valid, pad, max_len, np.int64)


def soft_examples(dataset: Dataset, max_len: int) -> TrainingExamples:
    """Windows of `dataset.soft` (P [S, L, n]): inputs P[:, :L-1], targets P[:, 1:]."""
    probs = dataset.soft.probs()
    if probs.shape[2] != dataset.num_items:
        raise DataError(
            f"soft sequences range over {probs.shape[2]} items, the item table has {dataset.num_items}",
            file=f"{dataset.name}:soft",
        )
    zero = np.float32(0.0)
    inputs, targets, valid = [], [], []
    for sequence in probs:
        for start, end in windows(len(sequence), max_len):
            inputs.append(_left_pad(sequence[start : end - 1], max_len, zero))
            targets.append(_left_pad(sequence[start + 1 : end], max_len, zero))
            valid.append(_left_pad(np.ones(end - start - 1, dtype=bool), max_len, False))
    return _stack(SOFT, inputs, targets, valid, dataset.num_items, max_len, np.float32)


def _stack(kind, inputs, targets, valid, num_items, max_len, dtype) -> TrainingExamples:
    if not inputs:
        raise DataError("the train set has no sequence of two or more items: nothing to learn")
    return TrainingExamples(
        kind=kind,
        inputs=np.stack(inputs).astype(dtype, copy=False),
        targets=np.stack(targets).astype(dtype, copy=False),
        valid=np.stack(valid),
        num_items=num_items,
    )


def training_examples(dataset: Dataset, max_len: int) -> TrainingExamples:
    """The examples of a hard or soft train set (`harness.sequences.train_kind`)."""
    if train_kind(dataset) == SOFT:
        return soft_examples(dataset, max_len)
    return hard_examples(dataset, max_len)


def epoch_batches(
    count: int, batch_size: int, min_steps: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Example indices of each optimiser step of one epoch.

    Batches of ``min(batch_size, count)`` examples drawn in order from consecutive seeded
    permutations of the examples: one pass, or as many passes as at least `min_steps` steps
    need (a 20-sequence set still trains); the last batch of the epoch may be shorter.
    """
    size = min(batch_size, count)
    total = count if math.ceil(count / size) >= min_steps else min_steps * size
    passes = math.ceil(total / count)
    order = np.concatenate([rng.permutation(count) for _ in range(passes)])[:total]
    return [order[start : start + size] for start in range(0, total, size)]
