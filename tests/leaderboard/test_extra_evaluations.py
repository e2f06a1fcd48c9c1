"""A method's own evaluation recipe (e.g. TD3's warm-started learners) as a labelled extra:
kept by the record (left out of the JSON when empty), averaged per entry, shown on the
entry page, never ranked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leaderboard_factory import make_record, make_sequential_record

from harness.errors import DataError
from leaderboard.aggregate import aggregate
from leaderboard.record import (
    ExtraEvaluation,
    ResultRecord,
    extra_evaluations,
    read_record,
    record_json,
    write_record,
)
from leaderboard.site import LoadedRecord, render_site

RESULTS = Path(__file__).resolve().parents[2] / "results"
XSS = "<script>alert(1)</script>"


def _td3(seed: int, ndcg: float, hr: float | None = None, **extra) -> ResultRecord:
    metrics = {"NDCG@10": ndcg} | ({"HR@10": hr} if hr is not None else {})
    own = {
        "td3-recipe": ExtraEvaluation(
            label=extra.get("label", "TD3's own recipe"),
            description=extra.get("description", "200 steps, warm item embeddings, 3 learners"),
            metrics=metrics,
        )
    }
    record = make_sequential_record(method="td3", seed=seed, value=0.3)
    return record.model_copy(update={"extra_evaluations": own})


def test_a_record_with_extra_evaluations_round_trips(tmp_path):
    record = _td3(0, 0.25, 0.5)
    path = write_record(record, tmp_path)
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["extra_evaluations"] == {
        "td3-recipe": {
            "label": "TD3's own recipe",
            "description": "200 steps, warm item embeddings, 3 learners",
            "split": "test",
            "metrics": {"NDCG@10": 0.25, "HR@10": 0.5},
        }
    }
    assert read_record(path) == record
    assert record_json(read_record(path)) == path.read_text(encoding="utf-8")


def test_an_empty_one_leaves_the_json_without_the_key(tmp_path):
    record = make_sequential_record(method="td3")
    assert record.extra_evaluations == {}
    stored = json.loads(write_record(record, tmp_path).read_text(encoding="utf-8"))
    assert "extra_evaluations" not in stored and "secondary_metrics" not in stored


def test_every_committed_record_keeps_its_text():
    files = sorted(RESULTS.rglob("seed=*.json"))
    content = [p for p in files if p.relative_to(RESULTS).parts[0] == "movielens-tfdcon"]
    assert content, "no committed content record found"
    for path in files:
        assert record_json(read_record(path)) == path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"td3 recipe": {"label": "x", "metrics": {"a": 1.0}}}, "td3 recipe.[key]", "pattern"),
        ({"k": {"label": "", "metrics": {"a": 1.0}}}, "k.label", "at least 1 character"),
        ({"k": {"label": "x", "metrics": {}}}, "k.metrics", "at least 1 item"),
        ({"k": {"label": "x", "metrics": {"a": float("nan")}}}, "k.metrics.a", "finite"),
        ({"k": {"label": "x", "split": "train", "metrics": {"a": 1}}}, "k.split", "'test'"),
        ({"k": {"label": "x", "metrics": {"a": 1}, "score": 3}}, "k.score", "not permitted"),
        ([1, 2], "(all)", "dictionary"),
    ],
)
def test_a_bad_extra_evaluation_is_one_clear_error(data, where, message):
    with pytest.raises(DataError, match=message) as info:
        extra_evaluations(data, "condenser 'td3'")
    assert info.value.where == where and info.value.file == "condenser 'td3'"


def test_the_entry_averages_each_metric_over_the_seeds_that_report_it():
    records = [_td3(0, 0.2, 0.4), _td3(1, 0.3, None), _td3(2, 0.4, 0.6)]
    records.append(make_sequential_record(method="td3", seed=3, value=0.3))  # reports none
    (entry,) = [e for e in aggregate(records) if e.method == "td3"]
    extra = entry.extra_evaluations["td3-recipe"]
    assert extra.label == "TD3's own recipe" and extra.split == "test"
    assert extra.seeds == [0, 1, 2]
    assert extra.metrics["NDCG@10"] == pytest.approx(0.3)  # (0.2 + 0.3 + 0.4) / 3
    assert extra.metrics["HR@10"] == pytest.approx(0.5)  # (0.4 + 0.6) / 2
    assert entry.extra_metric_names == ["NDCG@10", "HR@10"]
    assert entry.metrics["NDCG@10"].mean == pytest.approx(0.3)  # the ranked figure: its own
    assert all(not e.extra_evaluations for e in aggregate([make_record(method="random")]))


def test_the_entry_page_shows_the_extra_labelled_and_escaped(sequential_track, tmp_path):
    records = [_td3(s, 0.1234 + s / 100, label=f"TD3 {XSS}", description=XSS) for s in (0, 1)]
    records += [make_sequential_record(method="original", budget="all", seed=s) for s in (0, 1)]
    render_site([LoadedRecord(r, None) for r in records], tmp_path / "site", built="now")
    pages = {p.name.split("--")[1]: p.read_text() for p in (tmp_path / "site/entries").glob("*")}
    html = pages["td3"]
    assert "The method's own evaluation (not ranked)" in html
    assert "TD3 &lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
    assert "<td>0.1284</td>" in html  # mean of 0.1234 and 0.1334
    assert "own evaluation" not in pages["original"]
