"""Metric functions against hand-computed values and scikit-learn; parsing; Quality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from harness.errors import ConfigError
from harness.metrics import (
    Metric,
    default_metrics,
    delta_random,
    parse_metric,
    parse_metrics,
    quality,
    ranking_metrics,
    summarise,
)

ALL = ["AUC", "MRR", "NDCG@1", "NDCG@3", "Recall@1", "Recall@2"]


def one_group(labels, scores, metrics=ALL):
    result = ranking_metrics(
        np.zeros(len(labels), dtype=int), np.asarray(labels), np.asarray(scores, float), metrics
    )
    return result.means()


def test_hand_computed_single_group():
    # ranking by score (0.9, 0.7, 0.2, 0.1): labels in rank order are 0, 1, 1, 0
    values = one_group([1, 0, 1, 0], [0.2, 0.9, 0.7, 0.1])
    assert values["NDCG@1"] == 0.0
    dcg3 = 1 / math.log2(3) + 1 / math.log2(4)  # positives at ranks 2 and 3
    ideal3 = 1 + 1 / math.log2(3)
    assert values["NDCG@3"] == pytest.approx(dcg3 / ideal3)
    assert values["Recall@1"] == 0.0
    assert values["Recall@2"] == pytest.approx(0.5)
    assert values["MRR"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    # positive/negative pairs won: 0.7 > 0.1 and 0.2 > 0.1, lost against 0.9: 2 of 4
    assert values["AUC"] == pytest.approx(0.5)


def test_perfect_ranking_scores_one():
    values = one_group([1, 1, 0, 0, 0], [5, 4, 3, 2, 1])
    assert values["AUC"] == 1.0
    assert values["NDCG@1"] == 1.0 and values["NDCG@3"] == 1.0
    assert values["Recall@1"] == 0.5 and values["Recall@2"] == 1.0
    assert values["MRR"] == pytest.approx((1 + 1 / 2) / 2)


def test_ties_are_expectations_over_orders():
    # all tied: NDCG@1 = P(a positive is first) = 2/5, Recall@1 = (2/5) / 2
    values = one_group([1, 1, 0, 0, 0], [1, 1, 1, 1, 1])
    assert values["NDCG@1"] == pytest.approx(0.4)
    assert values["Recall@1"] == pytest.approx(0.2)
    assert values["AUC"] == pytest.approx(0.5)


def test_groups_without_positive_or_negative_are_dropped_and_counted():
    groups = np.array([1, 1, 2, 2, 3, 4, 4])
    labels = np.array([1, 0, 1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.1, 0.5, 0.4, 0.3, 0.2, 0.1])
    result = ranking_metrics(groups, labels, scores, ["AUC", "NDCG@1"])
    assert result.groups_dropped == 3  # all-positive, single-row, all-negative
    assert result.group_ids.tolist() == [1]
    assert result.means() == {"AUC": 1.0, "NDCG@1": 1.0}


@pytest.mark.parametrize("with_ties", [False, True])
def test_agrees_with_scikit_learn_on_random_groups(with_ties):
    rng = np.random.default_rng(7)
    sizes = rng.integers(2, 15, size=120)
    groups = np.repeat(rng.permutation(len(sizes)) * 3, sizes)  # unsorted, non-contiguous ids
    labels = rng.integers(0, 2, size=len(groups))
    scores = (
        rng.integers(0, 4, size=len(groups)).astype(float)
        if with_ties
        else rng.normal(size=len(groups))
    )
    shuffle = rng.permutation(len(groups))
    groups, labels, scores = groups[shuffle], labels[shuffle], scores[shuffle]
    result = ranking_metrics(groups, labels, scores, ["AUC", "NDCG@1", "NDCG@5", "NDCG@10"])
    expected = {"AUC": [], "NDCG@1": [], "NDCG@5": [], "NDCG@10": []}
    for gid in result.group_ids:
        m = groups == gid
        expected["AUC"].append(roc_auc_score(labels[m], scores[m]))
        for k in (1, 5, 10):
            expected[f"NDCG@{k}"].append(ndcg_score([labels[m]], [scores[m]], k=k))
    for name, values in expected.items():
        np.testing.assert_allclose(result.per_group[name], values, atol=1e-12, err_msg=name)
    assert result.groups_dropped == len(np.unique(groups)) - len(result.group_ids) > 0


def test_recall_and_mrr_against_a_plain_loop():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(50), 8)
    labels = rng.integers(0, 2, size=len(groups))
    scores = rng.normal(size=len(groups))
    result = ranking_metrics(groups, labels, scores, ["Recall@3", "MRR"])
    recall, mrr = [], []
    for gid in result.group_ids:
        m = groups == gid
        ranked = labels[m][np.argsort(-scores[m])]
        recall.append(ranked[:3].sum() / ranked.sum())
        mrr.append(sum(label / (rank + 1) for rank, label in enumerate(ranked)) / ranked.sum())
    np.testing.assert_allclose(result.per_group["Recall@3"], recall)
    np.testing.assert_allclose(result.per_group["MRR"], mrr)


def test_parse_metric_names():
    assert parse_metric("NDCG@5") == Metric("NDCG", 5)
    assert parse_metric("recall@1").name == "Recall@1"
    assert parse_metric(" auc ").name == "AUC"
    assert [m.name for m in parse_metrics("NDCG@1, MRR,NDCG@1")] == ["NDCG@1", "MRR"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("NDCG", "needs a cutoff"),
        ("NDCG@0", "positive integer"),
        ("NDCG@five", "positive integer"),
        ("AUC@5", "takes no cutoff"),
        ("Precision@5", "unknown metric 'Precision'"),
        ("@@", "unreadable metric"),
    ],
)
def test_parse_metric_errors_are_readable(text, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        parse_metric(text)
    message = str(info.value)
    assert "\n" not in message and repr(text) in message or text in message


def test_default_metrics_per_dataset():
    assert default_metrics("movielens-tfdcon") == ["NDCG@1", "NDCG@5", "Recall@1", "Recall@5"]
    assert default_metrics("mind-small") == ["NDCG@5", "NDCG@10", "Recall@5", "Recall@10"]


def test_summarise_is_seeded_and_brackets_the_mean():
    values = [0.80, 0.82, 0.79, 0.85, 0.81]
    first, second = summarise(values), summarise(values)
    assert first == second
    assert first["mean"] == pytest.approx(np.mean(values))
    assert first["std"] == pytest.approx(np.std(values, ddof=1))
    low, high = first["ci95"]
    assert min(values) <= low <= first["mean"] <= high <= max(values)
    assert summarise([0.5]) == {"mean": 0.5, "std": 0.0, "ci95": [0.5, 0.5], "values": [0.5]}


def test_quality_and_chance_adjusted_quality():
    metrics = ["NDCG@1", "Recall@1"]
    original = [{"NDCG@1": 0.8, "Recall@1": 0.2}, {"NDCG@1": 0.8, "Recall@1": 0.2}]
    condensed = [{"NDCG@1": 0.7, "Recall@1": 0.15}, {"NDCG@1": 0.74, "Recall@1": 0.17}]
    chance = {"NDCG@1": 0.6, "Recall@1": 0.1}
    result = quality(condensed, original, metrics, chance=chance)
    assert result["quality"]["mean"] == pytest.approx((0.72 / 0.8 + 0.16 / 0.2) / 2)
    assert result["quality_chance_adjusted"]["mean"] == pytest.approx(
        ((0.72 - 0.6) / 0.2 + (0.16 - 0.1) / 0.1) / 2
    )
    assert np.mean(result["quality"]["values"]) == pytest.approx(result["quality"]["mean"])
    low, high = result["quality"]["ci95"]
    assert low <= result["quality"]["mean"] <= high
    assert result["per_metric"] == pytest.approx({"NDCG@1": 0.9, "Recall@1": 0.8})
    assert quality(condensed, original, metrics)["quality_chance_adjusted"] is None
    with pytest.raises(ValueError, match="lacks metric 'Recall@1'"):
        quality([{"NDCG@1": 0.7}], original, metrics)


def test_delta_random():
    assert delta_random(0.95, 0.90) == pytest.approx(0.05)
    assert delta_random({"mean": 0.9}, {"mean": 0.95}) == pytest.approx(-0.05)
