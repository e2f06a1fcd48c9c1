"""Record schema 2 names its track; schema-1 records (before tracks) still read, as content;
a record with a value that is not finite, a metric outside its range or a negative size is
refused on load, naming the file and the field."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from leaderboard_factory import make_record

from harness.errors import DataError
from leaderboard.record import (
    RECORD_SCHEMA_VERSION,
    LLMInfo,
    read_record,
    record_json,
    write_record,
)

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_a_schema_1_record_reads_as_a_content_record(tmp_path):
    record = make_record(method="random")
    assert (RECORD_SCHEMA_VERSION, record.track) == (2, "content")
    path = write_record(record, tmp_path)
    old = json.loads(path.read_text(encoding="utf-8"))
    old["schema_version"] = 1
    del old["track"]
    del old["environment"]["cpu"]
    path.write_text(json.dumps(old), encoding="utf-8")

    read = read_record(path)
    assert (read.schema_version, read.track) == (2, "content")
    assert read.metrics == record.metrics and read.environment.cpu == ""


def test_a_record_of_another_track_keeps_it_and_unknown_schemas_are_refused(tmp_path):
    record = make_record(method="random").model_copy(update={"track": "toy"})
    assert read_record(write_record(record, tmp_path)).track == "toy"
    bad = tmp_path / "seed=9.json"
    bad.write_text(json.dumps({**json.loads(record.model_dump_json()), "schema_version": 3}))
    with pytest.raises(DataError, match="schema version 3"):
        read_record(bad)


# ---- values: finite, metrics within their range, sizes not negative -----------------------


def _edited(tmp_path, edit) -> Path:
    """A record file of `make_record`'s, changed by `edit(data)` as raw JSON (NaN and
    Infinity written as JSON's constants, as a hostile or broken writer would)."""
    path = write_record(make_record(method="tfdcon"), tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _set(*keys, value):
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value

    return edit


BAD_VALUES = [
    (("metrics", "NDCG@5"), math.nan, "metrics.NDCG@5", "finite"),
    (("metrics", "AUC"), math.inf, "metrics.AUC", "finite"),
    (("metrics", "Recall@1"), -0.1, "metrics", "'Recall@1' is -0.1, outside its range"),
    (("metrics", "MRR"), 1.5, "metrics", "'MRR' is 1.5, outside its range"),
    (("dev_metrics", "NDCG@1"), -math.inf, "dev_metrics.NDCG@1", "finite"),
    (("dev_metrics", "NDCG@1"), 2.0, "dev_metrics", "outside its range"),
    (("secondary_metrics", "uni100", "HR@10"), 1.01, "secondary_metrics", "'uni100:HR@10' is 1.01"),
    (("reference", "chance", "NDCG@5"), -1.0, "reference", "outside its range"),
    (("reference", "popularity", "AUC"), math.nan, "reference.popularity.AUC", "finite"),
    (("sizes", "ratio_overall"), 0.0, "sizes.ratio_overall", "greater than 0"),
    (("sizes", "ratio_overall"), -0.05, "sizes.ratio_overall", "greater than 0"),
    (("sizes", "ratio_overall"), math.nan, "sizes.ratio_overall", "finite"),
    (("sizes", "ratio_overall"), math.inf, "sizes.ratio_overall", "finite"),
    (("sizes", "ratio_item"), -1.0, "sizes.ratio_item", "greater than or equal to 0"),
    (("sizes", "overall_kb"), math.inf, "sizes.overall_kb", "finite"),
    (("sizes", "sequences"), -3, "sizes.sequences", "greater than or equal to 0"),
    (("timings", "train_s"), math.nan, "timings.train_s", "finite"),
    (("timings", "condense_s"), -1.0, "timings.condense_s", "greater than or equal to 0"),
]


@pytest.mark.parametrize(("keys", "value", "where", "message"), BAD_VALUES)
def test_a_record_with_a_bad_value_is_refused_naming_file_and_field(
    tmp_path, keys, value, where, message
):
    path = _edited(tmp_path, _set(*keys, value=value))
    with pytest.raises(DataError) as info:
        read_record(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path} ({where}): invalid result record")
    assert message in text


def test_an_extra_evaluation_outside_its_metric_range_is_refused(tmp_path):
    extra = {"own": {"label": "own recipe", "metrics": {"uni100:NDCG@10": 1.2}}}
    path = _edited(tmp_path, _set("extra_evaluations", value=extra))
    with pytest.raises(DataError, match=r"extra_evaluations.own.metrics\): .*outside its range"):
        read_record(path)


def test_unregistered_metric_names_need_only_be_finite(tmp_path):
    path = _edited(tmp_path, _set("metrics", "plugin-loss", value=3.5))
    assert read_record(path).metrics["plugin-loss"] == 3.5
    with pytest.raises(DataError, match="finite"):
        read_record(_edited(tmp_path / "nan", _set("metrics", "plugin-loss", value=math.nan)))


def test_every_committed_record_still_loads_and_keeps_its_text():
    paths = sorted(RESULTS.rglob("seed=*.json"))
    assert len(paths) > 100
    for path in paths:
        assert record_json(read_record(path)) == path.read_text(encoding="utf-8"), path


def test_llm_retries_and_http_attempts_are_written_only_when_not_zero():
    quiet = LLMInfo(backend="openai", model="m", calls=2)
    assert "retries" not in quiet.model_dump_json() and "http_attempts" not in quiet.model_dump()
    busy = LLMInfo(backend="openai", model="m", calls=2, retries=1, http_attempts=3)
    assert busy.model_dump()["retries"] == 1 and busy.model_dump()["http_attempts"] == 3
    assert LLMInfo.model_validate_json(busy.model_dump_json()) == busy
