"""Record schema 2 names its track; schema-1 records (before tracks) still read, as content."""

from __future__ import annotations

import json

import pytest
from leaderboard_factory import make_record

from harness.errors import DataError
from leaderboard.record import RECORD_SCHEMA_VERSION, read_record, write_record


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
