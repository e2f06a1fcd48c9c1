"""Full ranking (harness/full_ranking.py): masking, ties, floors and the sampled figure,
checked against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from factories import tiny_sequential_dataset

from harness.dataset import Dataset, normalise_interactions
from harness.errors import DataError
from harness.full_ranking import (
    RankingTask,
    full_ranking_metric_names,
    full_ranking_metrics,
    full_ranking_reference,
    ranking_task,
    sampled_metrics,
)

METRICS = ["HR@1", "HR@2", "NDCG@2", "MRR@2"]


def hand_dataset(test_rows=()) -> Dataset:
    """6 items with ids 10..15 (rows 0..5). User 0: history items 10, 11, dev 12, test 13.
    User 1: history 14, 11, dev 15, test 14 (an item of its own history)."""
    items = pd.DataFrame({"item_id": np.arange(10, 16), "text": [[2000 + i] for i in range(6)]})
    histories = pd.DataFrame({"user_id": [0, 1], "history": [[10, 11], [14, 11]]})
    rows = [("train", 0, 10, 1, 0), ("train", 0, 11, 1, 0), ("train", 1, 14, 1, 1)]
    rows += [("train", 1, 11, 1, 1), ("dev", 0, 12, 1, 0), ("dev", 1, 15, 1, 1)]
    rows += [("test", 0, 13, 1, 0), ("test", 1, 14, 1, 1), *test_rows]
    frame = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    return Dataset(
        name="hand",
        items=items,
        text_fields=("text",),
        histories=histories,
        interactions=normalise_interactions(frame),
        meta={"kind": "sequential", "cutoffs": [1, 2]},
    )


def test_dev_masks_the_history_and_ranks_the_rest():
    task = ranking_task(hand_dataset(), "dev")
    assert task.user_ids.tolist() == [0, 1]
    assert task.targets.tolist() == [2, 5]
    assert [c.tolist() for c in task.contexts] == [[0, 1], [4, 1]]
    # user 0: rows 0, 1 masked; unmasked 2..5 score 5, 6, 1, 0: the target (row 2) is 2nd
    # user 1: rows 4, 1 masked; unmasked 0, 2, 3, 5 score 1, 2, 3, 9: the target (row 5) is 1st
    scores = np.array([[9, 8, 5, 6, 1, 0], [1, 99, 2, 3, 99, 9]], dtype=float)
    result = full_ranking_metrics(scores, task, METRICS)
    ndcg_second = 1 / math.log2(3)
    assert result.metrics == pytest.approx(
        {"HR@1": 0.5, "HR@2": 1.0, "NDCG@2": (ndcg_second + 1) / 2, "MRR@2": (0.5 + 1) / 2}
    )
    assert (result.groups_used, result.groups_dropped) == (2, 0)


def test_test_also_masks_the_dev_item_but_never_the_target():
    task = ranking_task(hand_dataset(), "test")
    assert [c.tolist() for c in task.contexts] == [[0, 1, 2], [4, 1, 5]]
    seen = task.seen()
    assert seen[0].tolist() == [True, True, True, False, False, False]
    # user 1's target (row 4) is in its own history: masked as history, kept as the target
    assert seen[1].tolist() == [False, True, False, False, False, True]
    # the dev item (row 2) outscores user 0's target (row 3) but is masked: target 1st
    # user 1: row 4 (target) has 7, row 0 has 8, rows 1 and 5 (masked) have 100
    scores = np.array([[50, 50, 50, 7, 1, 0], [8, 100, 0, 0, 7, 100]], dtype=float)
    result = full_ranking_metrics(scores, task, METRICS)
    assert result.metrics == pytest.approx(
        {"HR@1": 0.5, "HR@2": 1.0, "NDCG@2": (1 + 1 / math.log2(3)) / 2, "MRR@2": 0.75}
    )


def test_ties_count_by_their_expectation():
    task = ranking_task(hand_dataset(), "dev")
    # user 0: target (row 2) tied with row 3 at the top: HR@1 1/2, MRR (1 + 1/2)/2,
    # NDCG@2 (1 + 1/log2 3)/2; user 1 on top alone
    scores = np.array([[0, 0, 4, 4, 1, 1], [0, 0, 0, 0, 0, 5]], dtype=float)
    result = full_ranking_metrics(scores, task, METRICS)
    assert result.metrics["HR@1"] == pytest.approx((0.5 + 1) / 2)
    assert result.metrics["HR@2"] == pytest.approx(1.0)
    assert result.metrics["MRR@2"] == pytest.approx((0.75 + 1) / 2)
    assert result.metrics["NDCG@2"] == pytest.approx(((1 + 1 / math.log2(3)) / 2 + 1) / 2)


def test_chance_is_the_closed_form_per_user():
    dataset = tiny_sequential_dataset()
    names = ["HR@5", "HR@10", "NDCG@5", "NDCG@10"]
    for split in ("dev", "test"):
        task = ranking_task(dataset, split)
        unmasked = (~task.seen()).sum(axis=1).astype(float)
        expected = {}
        for k in (5, 10):
            expected[f"HR@{k}"] = np.mean(np.minimum(k, unmasked) / unmasked)
            gains = [1 / math.log2(r + 1) for r in range(1, k + 1)]
            expected[f"NDCG@{k}"] = np.mean([sum(gains[: int(min(k, n))]) / n for n in unmasked])
        chance = full_ranking_reference(dataset, names, split)["chance"]
        assert chance == pytest.approx(expected), split
        assert len(set(unmasked)) > 3  # users differ in what is masked: the test means something


def test_popularity_counts_original_train_items_with_seen_items_masked():
    dataset = hand_dataset()
    # train counts by row: row 0: 1, row 1: 2, row 4: 1, the rest 0
    floors = full_ranking_reference(dataset, METRICS, "test")
    # user 0 (target row 3, masked rows 0, 1, 2): unmasked rows 3, 4, 5 score 0, 1, 0:
    #   row 4 first, then rows 3 and 5 tied for ranks 2-3: HR@1 0, HR@2 1/2, MRR@2 1/4,
    #   NDCG@2 = (1/log2 3) / 2
    # user 1 (target row 4, masked rows 1, 5): rows 0, 2, 3, 4 score 1, 0, 0, 1:
    #   the target tied with row 0 for ranks 1-2: HR@1 1/2, HR@2 1, MRR@2 3/4,
    #   NDCG@2 = (1 + 1/log2 3) / 2
    second = 1 / math.log2(3)
    assert floors["popularity"] == pytest.approx(
        {
            "HR@1": (0 + 0.5) / 2,
            "HR@2": (0.5 + 1) / 2,
            "MRR@2": (0.25 + 0.75) / 2,
            "NDCG@2": (second / 2 + (1 + second) / 2) / 2,
        }
    )


def test_popularity_of_a_condensed_set_counts_the_original():
    dataset = hand_dataset()
    condensed = dataset.with_train(dataset.split("train").iloc[:1], variant="x")
    assert full_ranking_reference(condensed, METRICS, original=dataset) == full_ranking_reference(
        dataset, METRICS
    )
    assert full_ranking_reference(condensed, METRICS) != full_ranking_reference(dataset, METRICS)


def test_sampled_figure_ranks_only_the_stored_candidates():
    # user 0's stored negatives: items 10 and 15 (rows 0, 5); user 1's: item 12 (row 2)
    negatives = [("test", 0, 10, 0, 0), ("test", 0, 15, 0, 0), ("test", 1, 12, 0, 1)]
    dataset = hand_dataset(negatives)
    task = ranking_task(dataset, "test")
    # user 0: target row 3 scores 2 against rows 0 (3) and 5 (1): 2nd; row 4 (9) is no candidate
    # user 1: target row 4 scores 1 against row 2 (1): tied, HR@1 1/2
    scores = np.array([[3, 0, 0, 2, 9, 1], [0, 0, 1, 0, 1, 0]], dtype=float)
    sampled = sampled_metrics(scores, task, dataset, ["HR@1", "MRR@2"])
    assert sampled == pytest.approx({"HR@1": (0 + 0.5) / 2, "MRR@2": (0.5 + 0.75) / 2})
    assert (
        sampled_metrics(scores, ranking_task(hand_dataset(), "test"), hand_dataset(), METRICS)
        is None
    )


def test_context_matrix_is_left_padded_latest_last():
    task = ranking_task(hand_dataset(), "test")
    assert task.context_matrix(2, pad=6).tolist() == [[1, 2], [1, 5]]
    assert task.context_matrix(5, pad=6).tolist() == [[6, 6, 0, 1, 2], [6, 6, 4, 1, 5]]


def test_bad_splits_are_named():
    two_targets = hand_dataset([("test", 0, 15, 1, 0)])
    with pytest.raises(DataError, match="user 0 has 2 targets"):
        ranking_task(two_targets, "test")
    unknown = hand_dataset([("test", 1, 99, 0, 1)])
    with pytest.raises(DataError, match="item 99 is not in the item table"):
        sampled_metrics(np.zeros((2, 6)), ranking_task(unknown, "test"), unknown, METRICS)
    with pytest.raises(ValueError, match="scores must be"):
        full_ranking_metrics(np.zeros((2, 5)), ranking_task(hand_dataset(), "dev"), METRICS)


def test_metric_names_follow_the_cutoffs():
    assert full_ranking_metric_names(hand_dataset()) == [
        "HR@1",
        "HR@2",
        "NDCG@1",
        "NDCG@2",
        "MRR@1",
    ]
    no_cutoffs = hand_dataset()
    no_cutoffs.meta.pop("cutoffs")
    assert full_ranking_metric_names(no_cutoffs) == [
        "HR@10",
        "HR@20",
        "NDCG@10",
        "NDCG@20",
        "MRR@10",
    ]


def test_full_ranking_at_ml100k_size_equals_ranks_counted_by_hand():
    # 943 users x 1,349 items with distinct random scores: the vectorised path must give
    # what counting each target's rank among the unmasked items gives (speed is measured by
    # bench/sequential_speed.py, not here)
    rng = np.random.default_rng(0)
    users, items = 943, 1349
    contexts = tuple(
        rng.choice(items, size=rng.integers(3, 500), replace=False) for _ in range(users)
    )
    targets = np.array(
        [next(i for i in rng.permutation(items) if i not in set(c)) for c in contexts]
    )
    task = RankingTask("test", np.arange(users), targets, contexts, items)
    scores = rng.normal(size=(users, items)).astype(np.float32)
    result = full_ranking_metrics(scores, task, ["HR@10", "NDCG@20", "MRR@10"])
    ranks = np.empty(users)
    for user, (context, target) in enumerate(zip(contexts, targets, strict=True)):
        unmasked = np.ones(items, dtype=bool)
        unmasked[context] = False
        ranks[user] = (scores[user][unmasked] > scores[user, target]).sum()  # 0-based
    assert result.groups_used == users
    assert result.metrics["HR@10"] == pytest.approx(np.mean(ranks < 10))
    assert result.metrics["NDCG@20"] == pytest.approx(
        np.mean(np.where(ranks < 20, 1 / np.log2(ranks + 2), 0.0))
    )
    assert result.metrics["MRR@10"] == pytest.approx(
        np.mean(np.where(ranks < 10, 1 / (ranks + 1), 0.0))
    )
