"""The metric registry: specs, names, dataset cutoffs, and a metric registered from this
module only that runs through `condbench run` into records and onto the built leaderboard."""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from cli_runner import invoke_condbench
from factories import tiny_config, tiny_dataset, write_config

from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.metrics import (
    METRICS,
    Metric,
    MetricSpec,
    RankedGroups,
    dataset_cutoffs,
    default_metrics,
    is_metric_name,
    is_quality_metric,
    metric_sort_key,
    metric_spec,
    metric_specs,
    parse_metric,
    ranking_metrics,
    register_metric,
    report_metrics,
)
from leaderboard.record import read_records
from leaderboard.site import build_site

# ---- two metrics known only to this module -------------------------------------------------


def _precision(ranked: RankedGroups, k: int | None) -> np.ndarray:
    """Expected positives in the top K over K (linear in the labels, so ties resolve by
    expectation through ``tie_label`` like the built-in metrics)."""
    return ranked.per_group_sum(np.where(ranked.position < k, ranked.tie_label, 0.0)) / k


def _positive_share(ranked: RankedGroups, k: int | None) -> np.ndarray:
    """Positives over candidates: does not depend on the scores at all."""
    return ranked.positives / ranked.group_len


TEST_PRECISION = MetricSpec(
    "TestPrecision", _precision, cutoff=True, quality=True, order=10, description="test only"
)
POSITIVE_SHARE = MetricSpec("PositiveShare", _positive_share, order=11, default=False)


@contextmanager
def registered_test_metrics() -> Iterator[None]:
    """TestPrecision@K (enters Quality) and PositiveShare (does not), removed afterwards."""
    register_metric(TEST_PRECISION)
    METRICS.register("PositiveShare", POSITIVE_SHARE)
    try:
        yield
    finally:
        METRICS.unregister("TestPrecision")
        METRICS.unregister("PositiveShare")


@pytest.fixture
def test_metrics() -> Iterator[None]:
    with registered_test_metrics():
        yield


# ---- a slow per-group reference --------------------------------------------------------------


def _strict(kind: str, k: int | None, ranked_labels: list[int]) -> float:
    """One metric of one strict ranking (no ties), by its textbook definition."""
    positives = sum(ranked_labels)
    top = ranked_labels[:k] if k else ranked_labels
    if kind == "NDCG":
        dcg = sum(label / math.log2(rank + 2) for rank, label in enumerate(top))
        return dcg / sum(1 / math.log2(rank + 2) for rank in range(min(positives, k)))
    if kind == "Recall":
        return sum(top) / positives
    if kind == "MRR":
        return sum(label / (rank + 1) for rank, label in enumerate(ranked_labels)) / positives
    if kind == "AUC":
        pairs = [(i, j) for i, a in enumerate(ranked_labels) for j, b in enumerate(ranked_labels)
                 if a == 1 and b == 0]  # fmt: skip
        return sum(i < j for i, j in pairs) / len(pairs)
    if kind == "TestPrecision":
        return sum(top) / k
    if kind == "PositiveShare":
        return positives / len(ranked_labels)
    raise AssertionError(kind)


def _slow_reference(groups, labels, scores, name: str) -> dict[int, float]:
    """Per group: the mean of the metric over every order of the candidates that sorts the
    scores descending (ties in every order): the expectation the vectorised code computes."""
    metric = parse_metric(name)
    out = {}
    for group in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == group]
        group_labels = [labels[i] for i in rows]
        if 0 < sum(group_labels) < len(group_labels):
            values = [
                _strict(metric.kind, metric.k, [labels[i] for i in order])
                for order in itertools.permutations(rows)
                if all(scores[a] >= scores[b] for a, b in itertools.pairwise(order))
            ]
            out[group] = float(np.mean(values))
    return out


# groups with ties, one group without a negative (dropped), uneven group sizes
GROUPS = [7, 7, 7, 7, 7, 3, 3, 3, 3, 5, 5, 9, 9, 9, 9, 9, 9]
LABELS = [1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1]
SCORES = [.5, .5, .2, .9, .2, .1, .1, .3, .3, .4, .6, .7, .7, .7, .2, .9, .2]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["AUC", "MRR", "NDCG@1", "NDCG@2", "NDCG@4", "Recall@1", "Recall@3", "TestPrecision@1",
     "TestPrecision@3", "PositiveShare"],
)  # fmt: skip
def test_registered_compute_matches_slow_reference(test_metrics, name):
    result = ranking_metrics(np.asarray(GROUPS), np.asarray(LABELS), np.asarray(SCORES), [name])
    expected = _slow_reference(GROUPS, LABELS, SCORES, name)
    assert result.groups_dropped == 1  # group 5: positives only
    assert result.group_ids.tolist() == sorted(expected)
    np.testing.assert_allclose(result.per_group[name], [expected[g] for g in sorted(expected)])


# ---- names, specs, order -------------------------------------------------------------------


def test_builtin_specs_in_display_order():
    kinds = ("AUC", "MRR", "NDCG", "Recall", "HR")
    builtin = [spec for spec in metric_specs() if spec.kind in kinds]
    assert [spec.pattern for spec in builtin] == ["AUC", "MRR[@K]", "NDCG@K", "Recall@K", "HR@K"]
    assert [spec.quality for spec in builtin] == [False, False, True, True, True]
    assert [spec.default for spec in builtin] == [True, True, True, True, False]
    assert all(spec.higher_is_better for spec in builtin)
    assert metric_spec("ndcg@5") is METRICS.get("NDCG") is parse_metric("NDCG@5").spec
    assert Metric("Recall", 1).spec.kind == "Recall"


def test_parse_metric_errors_list_the_registered_kinds():
    with pytest.raises(ConfigError) as info:
        parse_metric("Zeta@3")
    assert "unknown metric 'Zeta'" in str(info.value)
    for spec in metric_specs():
        assert spec.pattern in str(info.value)
    assert "Zeta@K" not in str(info.value)
    register_metric(MetricSpec("Zeta", _precision, cutoff=True))
    try:
        assert parse_metric("zeta@3") == Metric("Zeta", 3)
        for text, fragment in (("Zeta", "needs a cutoff"), ("Bogus", "Zeta@K"), ("AUC@1", "Zeta@K")):
            with pytest.raises(ConfigError, match=fragment):
                parse_metric(text)
    finally:
        METRICS.unregister("Zeta")
    with pytest.raises(ConfigError, match="unknown metric 'Zeta'"):
        parse_metric("Zeta@3")


def test_registry_refuses_a_spec_under_another_name():
    with pytest.raises(ConfigError, match="already registered"):
        register_metric(MetricSpec("ndcg", _precision, cutoff=True))
    with pytest.raises(ConfigError, match="letters only"):
        register_metric(MetricSpec("Top_K", _precision, cutoff=True))
    METRICS.register("Other", MetricSpec("Mismatch", _precision))
    try:
        with pytest.raises(ConfigError, match="must be its name"):
            parse_metric("Other")
    finally:
        METRICS.unregister("Other")


def test_quality_sort_and_names_follow_the_specs(test_metrics):
    assert is_quality_metric("NDCG@5") and is_quality_metric("Recall@10")
    assert is_quality_metric("TestPrecision@3")
    assert not any(is_quality_metric(n) for n in ("AUC", "MRR", "PositiveShare", "bogus", "x@1"))
    names = ["TestPrecision@3", "Recall@5", "PositiveShare", "loss", "AUC", "NDCG@10", "NDCG@5",
             "MRR", "TestPrecision@1"]  # fmt: skip
    assert sorted(names, key=metric_sort_key) == [
        "AUC", "MRR", "NDCG@5", "NDCG@10", "Recall@5", "TestPrecision@1", "TestPrecision@3",
        "PositiveShare", "loss",
    ]  # fmt: skip
    assert is_metric_name("NDCG@5") and is_metric_name("PositiveShare")
    assert not any(is_metric_name(n) for n in ("ndcg@5", "train_loss", "seconds", "NDCG", 3))


# ---- cutoffs from the data source ----------------------------------------------------------


def _with_meta(**meta) -> Dataset:
    dataset = tiny_dataset()
    dataset.meta.update(meta)
    return dataset


def test_report_metrics_use_the_dataset_cutoffs():
    assert report_metrics(_with_meta(cutoffs=[5, 10])) == [
        "AUC", "MRR", "NDCG@5", "NDCG@10", "Recall@5", "Recall@10"
    ]  # fmt: skip
    assert default_metrics((3,)) == ["NDCG@3", "Recall@3"]
    # no cutoffs in meta (a folder saved before sources named them): today's defaults
    assert dataset_cutoffs(tiny_dataset()) == (1, 5)
    assert default_metrics(tiny_dataset()) == ["NDCG@1", "NDCG@5", "Recall@1", "Recall@5"]
    legacy_mind = tiny_dataset()
    legacy_mind.name = "mind-small"
    assert dataset_cutoffs(legacy_mind) == (5, 10)


def test_registered_defaults_join_the_reported_metrics(test_metrics):
    assert report_metrics((1, 5)) == [
        "AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5", "TestPrecision@1",
        "TestPrecision@5",
    ]  # fmt: skip  (PositiveShare is registered with default=False)
    assert default_metrics((1, 5))[-2:] == ["TestPrecision@1", "TestPrecision@5"]


def test_every_source_names_its_cutoffs():
    from harness.data import DATASETS

    cutoffs = {name: tuple(source.cutoffs) for name, source in DATASETS.items()}
    assert cutoffs["mind-small"] == cutoffs["mind"] == (5, 10)
    for name in ("movielens-tfdcon", "goodreads-tfdcon", "ml-100k", "goodreads"):
        assert cutoffs[name] == (1, 5)


def test_load_dataset_writes_the_source_cutoffs(tmp_path, monkeypatch):
    import harness.data.loading as loading

    class FakeSource:
        name, description, version, variants, cutoffs = "fake", "", "1", ("original",), (2, 7)

        def build(self, variant, *, mirror=None, cache=None):
            return tiny_dataset()

    monkeypatch.setattr(loading, "get_source", lambda name: FakeSource())
    dataset = loading.load_dataset("fake", cache=tmp_path)
    assert dataset.meta["cutoffs"] == [2, 7]
    folder = loading.dataset_folder("fake", "original", tmp_path)
    assert json.loads((folder / "manifest.json").read_text())["meta"]["cutoffs"] == [2, 7]
    assert default_metrics(dataset) == ["NDCG@2", "NDCG@7", "Recall@2", "Recall@7"]
    # a cache folder converted before sources named cutoffs gets them from the source
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["meta"]["cutoffs"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "cutoffs" not in Dataset.load(folder).meta
    assert loading.load_dataset("fake", cache=tmp_path).meta["cutoffs"] == [2, 7]


# ---- done when: a metric from this module in a record and on the leaderboard -----------------

GRID_METRICS = ["AUC", "NDCG@1", "Recall@1", "Recall@3", "TestPrecision@1", "TestPrecision@3",
                "PositiveShare"]  # fmt: skip


@pytest.fixture(scope="module")
def grid_with_test_metrics(tiny_folder, tmp_path_factory) -> dict:
    """A real grid through `condbench run` (in this process, so it sees this module's
    registrations) and the site built from its records; unregistered afterwards."""
    root = tmp_path_factory.mktemp("metric-grid")
    config = tiny_config(tiny_folder, metrics=GRID_METRICS)
    config["grid"]["seeds"] = [0]
    config["training"]["max_epochs"] = 1
    path = write_config(root / "metrics.yaml", config)
    results = root / "results"
    site = root / "site"
    with registered_test_metrics():
        done = invoke_condbench("run", path, "--results", results, "--no-tracking", "--cache",
                                root / "cache", "--json")  # fmt: skip
        assert done.exit_code == 0, done.output
        build_site(results, site)
    assert "TestPrecision" not in METRICS
    return {"results": results, "site": site}


def test_registered_metric_is_in_every_record(grid_with_test_metrics):
    records = read_records(grid_with_test_metrics["results"])
    assert sorted(r.method.name for r in records) == ["original", "random"]
    for record in records:
        assert set(record.metrics) == set(GRID_METRICS)
        assert set(record.dev_metrics) >= set(GRID_METRICS)
        m = record.metrics
        # every tiny test list holds 2 positives among 5 candidates, so
        # Precision@K = Recall@K * 2 / K per group, and the positive share is 2/5
        assert m["TestPrecision@1"] == pytest.approx(m["Recall@1"] * 2)
        assert m["TestPrecision@3"] == pytest.approx(m["Recall@3"] * 2 / 3)
        assert m["TestPrecision@3"] != pytest.approx(m["Recall@3"])
        assert m["PositiveShare"] == pytest.approx(0.4)
        # the chance scorer ranks at random: expected precision = share of positives
        assert record.reference["chance"]["TestPrecision@3"] == pytest.approx(0.4)


def test_registered_metric_is_on_the_leaderboard(grid_with_test_metrics):
    site: Path = grid_with_test_metrics["site"]
    records = {r.method.name: r for r in read_records(grid_with_test_metrics["results"])}
    index = (site / "index.html").read_text(encoding="utf-8")
    # enters Quality: a column of the main table, and named in the Quality note
    assert ">TestPrecision@3</th>" in index and ">TestPrecision@1</th>" in index
    assert f"{records['random'].metrics['TestPrecision@3']:.4f}" in index
    assert "Quality over NDCG@K, Recall@K, TestPrecision@K;" in index  # the content track's
    assert ">PositiveShare</th>" not in index  # not a Quality metric: no column there
    entry_pages = "".join(p.read_text(encoding="utf-8") for p in (site / "entries").glob("*.html"))
    assert "TestPrecision@3" in entry_pages and "PositiveShare" in entry_pages
    with (site / "leaderboard.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    metric_columns = [h for h in header if h in GRID_METRICS]
    assert metric_columns == ["AUC", "NDCG@1", "Recall@1", "Recall@3", "TestPrecision@1",
                              "TestPrecision@3", "PositiveShare"]  # fmt: skip
    random_row = next(r for r in rows if r["method"] == "random")
    assert float(random_row["TestPrecision@3"]) == pytest.approx(
        records["random"].metrics["TestPrecision@3"]
    )
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    entries = board["entries"] if isinstance(board, dict) else board
    random_entry = next(e for e in entries if e["method"] == "random")
    assert "TestPrecision@3" in random_entry["quality_metrics"]
    assert "PositiveShare" not in random_entry["quality_metrics"]


def test_hit_rate_and_cut_mrr_by_hand():
    # group 0: the positive ties with two negatives at the top; group 1: a negative above a
    # tie of one positive and one negative; group 2: four tied, two positives
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    labels = np.array([1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1])
    scores = np.array([3, 3, 3, 1, 5, 4, 4, 2, 2, 2, 2.0])
    values = ranking_metrics(groups, labels, scores, ["HR@1", "HR@2", "MRR@1", "MRR"]).per_group
    np.testing.assert_allclose(values["HR@1"], [1 / 3, 0, 1 / 2])
    np.testing.assert_allclose(values["HR@2"], [2 / 3, 1 / 2, 1 - 1 / 6])  # 1 - C(2,2)/C(4,2)
    np.testing.assert_allclose(values["MRR@1"], [1 / 3, 0, 1 / 4])
    assert parse_metric("MRR@10").name == "MRR@10" and parse_metric("MRR").k is None
    assert "HR@1" not in report_metrics((1, 5))  # HR is the sequential track's, not a default
