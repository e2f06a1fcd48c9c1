"""Reference scorers: chance is the expectation of random rankings; popularity counts
positives of the original train split."""

from __future__ import annotations

import numpy as np
import pytest
from factories import learnable_dataset

from harness.metrics import ranking_metrics
from harness.reference import popularity_scores, reference_metrics

METRICS = ["AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5"]


@pytest.fixture(scope="module")
def tiny_dataset():
    return learnable_dataset()


def test_chance_equals_the_mean_of_many_seeded_random_rankings(tiny_dataset):
    exact = reference_metrics(tiny_dataset, METRICS)["chance"]
    test = tiny_dataset.split("test")
    rng = np.random.default_rng(0)
    draws = [
        ranking_metrics(test["group_id"], test["label"], rng.random(len(test)), METRICS).means()
        for _ in range(400)
    ]
    for name in METRICS:
        assert np.mean([d[name] for d in draws]) == pytest.approx(exact[name], abs=0.01), name
    assert exact["AUC"] == 0.5


def test_popularity_counts_original_train_positives(tiny_dataset):
    train = tiny_dataset.split("train")
    candidates = tiny_dataset.split("test")
    scores = popularity_scores(candidates, tiny_dataset)
    first = candidates["item_id"].iloc[0]
    assert scores[0] == ((train["item_id"] == first) & (train["label"] == 1)).sum()
    # a condensed set with almost no train rows still gets the original's popularity
    condensed = tiny_dataset.with_train(train.head(3), variant="condensed")
    with_original = reference_metrics(condensed, METRICS, original=tiny_dataset)
    assert with_original == reference_metrics(tiny_dataset, METRICS)
    assert reference_metrics(condensed, METRICS)["popularity"] != with_original["popularity"]


def test_popularity_beats_chance_when_liked_items_are_popular(tiny_dataset):
    references = reference_metrics(tiny_dataset, METRICS)
    assert references["popularity"]["AUC"] > references["chance"]["AUC"] + 0.1


def test_reference_on_movielens_release(mirror, session_cache):
    """The figures DESIGN.md quotes for the TF-DCon MovieLens test set."""
    from harness.data import load_dataset

    dataset = load_dataset("movielens-tfdcon", mirror=mirror, cache=session_cache)
    references = reference_metrics(dataset, ["NDCG@1", "NDCG@5", "Recall@1", "Recall@5"])
    expected = {
        "chance": {"NDCG@1": 0.700, "NDCG@5": 0.759, "Recall@1": 0.1435, "Recall@5": 0.692},
        "popularity": {"NDCG@1": 0.8535, "NDCG@5": 0.8548, "Recall@1": 0.1920, "Recall@5": 0.7500},
    }
    for scorer, values in expected.items():
        for name, value in values.items():
            assert references[scorer][name] == pytest.approx(value, abs=1e-3), (scorer, name)
