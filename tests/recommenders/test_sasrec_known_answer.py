"""The known answer of issue 12: a learner trained on two soft sequences whose every position
puts its mass on a known item cycle (0 -> 3 -> 7 -> 1 -> 0 ...) predicts the cycle's next item.

Every registered sequential learner (SASRec, GRU4Rec) is trained from scratch on the soft set
(soft inputs P @ E, soft targets), then reads each sequence's cycle walk as hard item ids,
laid out as in training: at every position, the top-scored item over ALL ten items must be
the successor of the item just read. (Two sequences fix the walk's phase at each position,
so SASRec may also use positions: its answers are asked where it was trained.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from harness.dataset import Dataset, normalise_interactions
from harness.sequences import SoftSequences
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential

CYCLE = [0, 3, 7, 1]
ITEMS = 10
LENGTH = 12
ON_CYCLE = 0.8  # the rest of each position's mass is spread evenly over all items


def cycle_soft_set() -> Dataset:
    """Two soft sequences starting at different points of the cycle, nothing else: with no
    dev split, training runs all its epochs and keeps the last."""
    probs = np.full((2, LENGTH, ITEMS), (1 - ON_CYCLE) / ITEMS, dtype=np.float32)
    for sequence, offset in enumerate((0, 2)):
        for position in range(LENGTH):
            probs[sequence, position, CYCLE[(position + offset) % len(CYCLE)]] += ON_CYCLE
    items = pd.DataFrame({"item_id": np.arange(ITEMS), "text": [[2000 + i] for i in range(ITEMS)]})
    frame = pd.DataFrame(columns=["split", "user_id", "item_id", "label", "group_id"])
    dataset = Dataset(
        name="cycle",
        items=items,
        text_fields=("text",),
        histories=pd.DataFrame({"user_id": pd.Series([], dtype="int64"), "history": []}),
        interactions=normalise_interactions(frame),
        meta={"kind": "sequential", "cutoffs": [1]},
        soft=SoftSequences("dense", {"probs": probs}),
    )
    dataset.validate()
    return dataset


@pytest.fixture(scope="module", params=SEQUENTIAL_LEARNERS.names())
def trained(request):
    settings = SequentialTrainSettings(
        device="cpu", max_epochs=25, patience=25, lr=0.01, min_steps_per_epoch=8
    )
    return train_sequential(
        cycle_soft_set(), request.param, seed=0, settings=settings, progress=False
    )


def walks(dataset: Dataset) -> np.ndarray:
    """The hard version of each soft sequence: its cycle item at every position."""
    return dataset.soft.probs().argmax(axis=-1)


def successor(item: int) -> int:
    return CYCLE[(CYCLE.index(item) + 1) % len(CYCLE)]


def test_the_learner_predicts_the_cycles_next_item(trained):
    model, max_len = trained.model, trained.settings.max_len
    inputs = walks(cycle_soft_set())[:, :-1]  # as in training: positions 0 .. L-2 read
    padded = np.full((len(inputs), max_len), model.pad)
    padded[:, max_len - inputs.shape[1] :] = inputs
    rows = torch.as_tensor(padded)
    with torch.no_grad():
        states = model(rows, rows != model.pad)[:, max_len - inputs.shape[1] :]
        predicted = model.logits(states).argmax(dim=-1).numpy()
    expected = np.vectorize(successor)(inputs)
    assert sorted(set(inputs.ravel().tolist())) == sorted(CYCLE)  # every transition is asked
    np.testing.assert_array_equal(predicted, expected, err_msg=trained.learner)


def test_the_soft_loss_falls_to_near_the_targets_entropy(trained):
    # the best any learner can do is the cross-entropy of the soft targets with themselves
    probs = cycle_soft_set().soft.probs()[:, 1:]
    entropy = float(-(probs * np.log(probs)).sum(axis=-1).mean())
    losses = trained.loss_history
    assert losses[-1] < losses[0]
    assert losses[-1] < entropy + 0.5, (trained.learner, losses[-1], entropy)
