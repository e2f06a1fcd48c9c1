"""Training examples of the sequential track (recommenders/sequence_data.py): windows, padding,
soft inputs and targets, and the batches of an epoch."""

from __future__ import annotations

import numpy as np
import pytest
from factories import tiny_sequential_dataset

from harness.errors import DataError
from harness.sequences import SoftSequences, hard_sequences
from recommenders.sequence_data import (
    IGNORE,
    epoch_batches,
    hard_examples,
    soft_examples,
    training_examples,
    windows,
)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 6, 7, 11, 12, 25])
def test_windows_make_every_item_after_the_first_a_target_once(length):
    max_len = 5
    found = windows(length, max_len)
    targets = [i for start, end in found for i in range(start + 1, end)]
    assert sorted(targets) == list(range(1, length))
    assert all(end - start <= max_len + 1 for start, end in found)
    assert found == sorted(found, reverse=True)  # latest window first


def test_windows_by_hand():
    assert windows(12, 5) == [(6, 12), (1, 7), (0, 2)]
    assert windows(6, 5) == [(0, 6)]
    assert windows(1, 5) == []


def test_hard_examples_are_left_padded_windows_of_item_rows():
    dataset = tiny_sequential_dataset()
    pad = dataset.num_items
    examples = hard_examples(dataset, max_len=4)
    _, sequences = hard_sequences(dataset)
    assert examples.target_count == sum(len(s) - 1 for s in sequences)
    first = sequences[0]  # item ids are rows in this dataset (0..29)
    last_window = first[-5:]
    assert examples.inputs[0].tolist() == last_window[:-1].tolist()
    assert examples.targets[0].tolist() == last_window[1:].tolist()
    # the earliest window of the first sequence is its shortest: padded on the left
    count = len(windows(len(first), 4))
    earliest = examples.inputs[count - 1], examples.targets[count - 1], examples.valid[count - 1]
    start, end = windows(len(first), 4)[-1]
    real = end - start - 1
    assert earliest[0].tolist() == [pad] * (4 - real) + first[start : end - 1].tolist()
    assert earliest[1].tolist() == [IGNORE] * (4 - real) + first[start + 1 : end].tolist()
    assert earliest[2].tolist() == [False] * (4 - real) + [True] * real


def test_soft_examples_shift_positions_by_one():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(30), size=(3, 6)).astype(np.float32)
    dataset = tiny_sequential_dataset()
    soft_set = dataset.with_train(
        dataset.split("train").iloc[:0],
        variant="soft",
        soft=SoftSequences("dense", {"probs": probs}),
    )
    examples = training_examples(soft_set, max_len=8)
    assert examples.kind == "soft"
    assert examples.inputs.shape == (3, 8, 30)
    np.testing.assert_array_equal(examples.inputs[:, 3:], probs[:, :5])
    np.testing.assert_array_equal(examples.targets[:, 3:], probs[:, 1:])
    assert not examples.inputs[:, :3].any() and not examples.targets[:, :3].any()
    assert examples.valid.sum(axis=1).tolist() == [5, 5, 5]
    # longer than max_len + 1: windowed like hard sequences
    short = soft_examples(soft_set, max_len=3)
    assert len(short) == 3 * len(windows(6, 3))
    assert short.target_count == 3 * 5


def test_a_train_set_without_two_item_sequences_is_refused():
    dataset = tiny_sequential_dataset()
    train = dataset.split("train")
    single = dataset.with_train(train.drop_duplicates("user_id"), variant="x")
    with pytest.raises(DataError, match="nothing to learn"):
        hard_examples(single, 50)


def test_epoch_batches_cycle_a_small_set_to_the_minimum_steps():
    batches = epoch_batches(20, 64, 8, np.random.default_rng(0))
    assert len(batches) == 8 and all(len(b) == 20 for b in batches)
    assert all(sorted(b.tolist()) == list(range(20)) for b in batches)  # each a permutation


def test_epoch_batches_are_one_seeded_pass_of_a_large_set():
    batches = epoch_batches(100, 32, 2, np.random.default_rng(1))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert sorted(np.concatenate(batches).tolist()) == list(range(100))
    again = epoch_batches(100, 32, 2, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    other = epoch_batches(100, 32, 2, np.random.default_rng(2))
    assert not np.array_equal(np.concatenate(batches), np.concatenate(other))
