"""Malformed inputs give one DataError naming the file and the line; nothing stays cached."""

from __future__ import annotations

import pytest
from mind_format_fixtures import NEWS, TRAIN_BEHAVIORS, behaviors_tsv, news_tsv, write_mind_mirror

from harness.data import load_dataset
from harness.data.textfiles import read_csv_records, read_json_lines
from harness.errors import DataError

GOOD_BEHAVIORS = behaviors_tsv(TRAIN_BEHAVIORS)


def load_broken(tmp_path, **files):
    mirror = write_mind_mirror(tmp_path / "mirror", **files)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        load_dataset("mind-small", mirror=mirror, cache=cache)
    message = str(info.value)
    assert "\n" not in message
    # nothing converted, nothing half-written
    assert not (cache / "datasets").exists() or not any((cache / "datasets").rglob("*.parquet"))
    assert not list(cache.rglob("*.tmp")) and not list(cache.rglob("*.part"))
    return message


def test_missing_column(tmp_path):
    broken = GOOD_BEHAVIORS.replace(
        "2\tU2\t11/12/2019 10:00:00 AM\tN2\t", "2\tU2\t11/12/2019 10:00:00 AM\t"
    )
    message = load_broken(tmp_path, train_behaviors=broken)
    assert "MINDsmall_train.zip:behaviors.tsv (line 2)" in message
    assert "4 fields, expected 5" in message and "impressions" in message


def test_unknown_item_id_in_an_interaction(tmp_path):
    broken = GOOD_BEHAVIORS.replace("N5-1", "N99-1")
    message = load_broken(tmp_path, train_behaviors=broken)
    assert "behaviors.tsv (line 3)" in message and "unknown news id 'N99'" in message


def test_group_with_no_candidates(tmp_path):
    broken = GOOD_BEHAVIORS.replace("N1-1 N3-0", " ")
    message = load_broken(tmp_path, train_behaviors=broken)
    assert "behaviors.tsv (line 2)" in message and "no candidates" in message


def test_malformed_impression_label(tmp_path):
    broken = GOOD_BEHAVIORS.replace("N1-1 N3-0", "N1-1 N3-2")
    message = load_broken(tmp_path, train_behaviors=broken)
    assert "(line 2)" in message and "malformed impression 'N3-2'" in message


def test_non_utf8_bytes(tmp_path):
    raw = news_tsv().encode().replace(b"Ten soups", b"Ten \xff soups")
    message = load_broken(tmp_path, train_news=raw)
    assert "MINDsmall_train.zip:news.tsv (line 3)" in message and "not valid UTF-8" in message


def test_truncated_file(tmp_path):
    cut = GOOD_BEHAVIORS[: GOOD_BEHAVIORS.rindex("\t") - 3]
    message = load_broken(tmp_path, train_behaviors=cut)
    assert "behaviors.tsv (line 4)" in message and "truncated file" in message


def test_bad_time(tmp_path):
    broken = GOOD_BEHAVIORS.replace("11/12/2019 10:00:00 AM", "yesterday")
    message = load_broken(tmp_path, train_behaviors=broken)
    assert "(line 2)" in message and "bad time 'yesterday'" in message


def test_news_with_too_many_fields(tmp_path):
    rows = news_tsv(NEWS).replace("Warm recipes.", "Warm\trecipes.")
    message = load_broken(tmp_path, train_news=rows)
    assert "news.tsv (line 3)" in message and "9 fields, expected 8" in message


def test_csv_missing_column_and_bad_json_line(tmp_path):
    csv_path = tmp_path / "content_condensation.csv"
    csv_path.write_text('mid,text\n0,"a"\n')
    with pytest.raises(
        DataError, match=r"content_condensation.csv \(line 1\): missing column 'sum'"
    ):
        read_csv_records(csv_path, ("mid", "sum"))
    log = tmp_path / "user_interest.log"
    log.write_text('{"uid": 0, "interest": ["a"]}\n{"uid": 1, "interest": ["b"\n')
    with pytest.raises(DataError, match=r"user_interest.log \(line 2\): bad JSON"):
        read_json_lines(log, ("uid", "interest"))
    log.write_text('{"uid": 0}\n')
    with pytest.raises(DataError, match=r"\(line 1\): missing key 'interest'"):
        read_json_lines(log, ("uid", "interest"))
