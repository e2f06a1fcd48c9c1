"""leaderboard.aggregate: records -> entries with Quality, intervals, ΔRandom, speed-up."""

from __future__ import annotations

import pytest
from leaderboard_factory import CHANCE, METRICS, POPULARITY, make_grid, make_record

from harness.errors import DataError
from harness.metrics import is_quality_metric
from leaderboard.aggregate import aggregate, budget_sort_key

QUALITY_METRICS = ("NDCG@1", "NDCG@5", "Recall@1", "Recall@5")


def _metrics(value: float, recall1: float | None = None) -> dict[str, float]:
    out = {m: value for m in METRICS}
    if recall1 is not None:
        out["Recall@1"] = recall1
    return out


def _by_method(entries, method, budget=None):
    return next(e for e in entries if e.method == method and (budget is None or e.budget == budget))


def test_quality_is_mean_over_ranking_metrics_of_seed_mean_ratios():
    records = [
        make_record(
            method="original",
            budget="all",
            seed=s,
            metrics=_metrics(0.8, 0.4),
            ratio=None,
            train_s=100,
        )
        for s in range(3)
    ]
    # S: seed means 0.6 for NDCG/Recall@5, 0.2 for Recall@1; AUC/MRR wildly off (must not count)
    s_values = [0.5, 0.6, 0.7]
    for seed, value in enumerate(s_values):
        metrics = _metrics(value, recall1=value - 0.4)
        metrics.update(AUC=0.01, MRR=0.01)
        records.append(
            make_record(method="tfdcon", seed=seed, metrics=metrics, ratio=0.05, train_s=20)
        )
    entries = aggregate(records)
    tfdcon = _by_method(entries, "tfdcon")
    expected = (0.6 / 0.8 * 3 + 0.2 / 0.4) / 4
    assert tfdcon.quality == pytest.approx(expected)
    assert tfdcon.quality_metrics == list(QUALITY_METRICS)
    low, high = tfdcon.quality_ci95
    assert low < tfdcon.quality < high
    assert tfdcon.metrics["NDCG@5"].mean == pytest.approx(0.6)
    assert tfdcon.metrics["NDCG@5"].std == pytest.approx(0.1)
    assert tfdcon.metrics["NDCG@5"].per_seed == pytest.approx(s_values)
    assert tfdcon.train_speedup == pytest.approx(5.0)
    assert tfdcon.ratio_overall == pytest.approx(0.05)
    adjusted = sum((0.6 - CHANCE[m]) / (0.8 - CHANCE[m]) for m in ("NDCG@1", "NDCG@5", "Recall@5"))
    adjusted += (0.2 - CHANCE["Recall@1"]) / (0.4 - CHANCE["Recall@1"])
    assert tfdcon.quality_chance_adjusted == pytest.approx(adjusted / 4)
    original = _by_method(entries, "original")
    assert original.quality == pytest.approx(1.0)
    assert original.ratio_overall == 1.0
    expected_pop = (
        sum(POPULARITY[m] / 0.8 for m in ("NDCG@1", "NDCG@5", "Recall@5"))
        + POPULARITY["Recall@1"] / 0.4
    ) / 4
    assert original.reference_quality["popularity"] == pytest.approx(expected_pop)


def test_delta_random_compares_the_same_budget_and_recommender():
    records = [
        make_record(method="original", budget="all", seed=0, metrics=_metrics(0.8), ratio=None)
    ]
    records += [make_record(method="random", budget="47", seed=0, metrics=_metrics(0.6))]
    records += [make_record(method="random", budget="10", seed=0, metrics=_metrics(0.4))]
    records += [make_record(method="tfdcon", budget="47", seed=0, metrics=_metrics(0.72))]
    records += [make_record(method="tfdcon", budget="100", seed=0, metrics=_metrics(0.76))]
    entries = aggregate(records)
    assert _by_method(entries, "tfdcon", "47").delta_random == pytest.approx(0.9 - 0.75)
    assert _by_method(entries, "tfdcon", "100").delta_random is None  # no random at 100
    assert _by_method(entries, "random", "10").delta_random == pytest.approx(0.0)
    assert _by_method(entries, "original").delta_random is None


def test_without_original_quality_is_none_but_metrics_are_kept():
    entries = aggregate(
        [
            make_record(dataset="goodreads-tfdcon", seed=s, metrics=_metrics(0.5 + s / 10))
            for s in range(2)
        ]
    )
    (entry,) = entries
    assert (
        entry.quality is None
        and entry.quality_ci95 is None
        and entry.quality_chance_adjusted is None
    )
    assert entry.metrics["NDCG@1"].mean == pytest.approx(0.55)
    assert entry.train_speedup is None


def test_original_of_another_recommender_is_not_used():
    records = [
        make_record(
            method="original", budget="all", recommender="nrms", metrics=_metrics(0.8), ratio=None
        )
    ]
    records.append(make_record(method="tfdcon", recommender="naml", metrics=_metrics(0.6)))
    assert _by_method(aggregate(records), "tfdcon").quality is None


def test_two_records_for_one_cell_are_refused():
    with pytest.raises(DataError, match="two records for one cell"):
        aggregate([make_record(seed=1), make_record(seed=1)])


def test_order_is_stable_and_original_first():
    records = make_grid(120, seed=3)
    first = aggregate(records)
    second = aggregate(list(reversed(records)))
    assert [e.key for e in first] == [e.key for e in second]
    assert [e.quality for e in first] == [e.quality for e in second]  # seeded bootstrap
    assert [e.quality_ci95 for e in first] == [e.quality_ci95 for e in second]
    per_board = {}
    for e in first:
        per_board.setdefault((e.dataset, e.recommender), []).append(e)
    for board in per_board.values():
        assert board[0].method == "original"
    assert len({e.slug for e in first}) == len(first)


def test_helpers():
    assert is_quality_metric("NDCG@5") and is_quality_metric("Recall@10")
    assert (
        not is_quality_metric("AUC")
        and not is_quality_metric("MRR")
        and not is_quality_metric("bogus")
    )
    assert sorted(["all", "5%", "100", "47"], key=budget_sort_key) == ["47", "100", "5%", "all"]


def test_without_original_score_and_delta_random_against_the_release_random_set():
    """No Original: score = mean over the quality metrics (AUC and MRR left out), per seed;
    ΔRandom (score) compares with release-random when the track's random was not run."""
    quality_names = ("NDCG@1", "NDCG@5", "Recall@1", "Recall@5")

    def metrics(level: float) -> dict[str, float]:
        return {"AUC": 0.99, "MRR": 0.99, **{m: level + i / 100 for i, m in enumerate(quality_names)}}

    records = [
        make_record(dataset="goodreads-tfdcon", method=m, budget="27%", seed=s,
                    metrics=metrics(level + s / 10))
        for m, level in (("release-random", 0.4), ("release-tfdcon", 0.5))
        for s in range(3)
    ]  # fmt: skip
    entries = aggregate(records)
    tfdcon = _by_method(entries, "release-tfdcon")
    random = _by_method(entries, "release-random")
    assert tfdcon.quality is None and tfdcon.random_method == "release-random"
    assert random.score == pytest.approx(0.4 + 0.1 + 0.015)  # seeds 0-2, metric offsets 0-.03
    assert tfdcon.delta_random_score == pytest.approx(0.1)
    low, high = tfdcon.delta_random_score_ci95
    assert low < 0.1 < high and high - low < 0.3
    assert random.delta_random_score == 0.0 and random.delta_random_score_ci95 is None
    low, high = tfdcon.score_ci95
    assert low < tfdcon.score < high


def test_equal_budgets_written_differently_are_one_entry():
    written = {"tfdcon": ["47", "047", " 47"], "random": ["47", "00047"]}
    records = [make_record(method="original", budget="all", ratio=None)]
    for method, budgets in written.items():
        records += [make_record(method=method, budget=b, seed=s) for s, b in enumerate(budgets)]
    records += [make_record(budget=b, seed=s) for s, b in enumerate(["5%", "5.0%"])]
    entries = {(e.method, e.budget): e for e in aggregate(records)}
    expected = [("original", "all"), ("random", "47"), ("tfdcon", "47"), ("tfdcon", "5%")]
    assert sorted(entries) == expected
    assert entries[("tfdcon", "47")].seeds == [0, 1, 2]
    assert entries[("tfdcon", "5%")].seeds == [0, 1]
    assert entries[("tfdcon", "47")].delta_random is not None  # its random entry is found
    with pytest.raises(DataError, match="two records for one cell"):
        aggregate([make_record(budget="47"), make_record(budget="047")])
