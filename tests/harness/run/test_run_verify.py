"""`condbench verify`: passes on a record it just made, fails on one whose metric was edited."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_runner import invoke_condbench
from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells, parse_only, select_cells
from harness.run.verify import compare
from leaderboard.record import read_record


@pytest.fixture(scope="module")
def fresh_record(tiny_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    config = load_config(write_config(root / "tiny.yaml", tiny_config(tiny_folder)))
    cell = select_cells(expand_cells(config), parse_only("method=random,seed=0"))[0]
    runner = GridRunner(config, root / "results", cache=root / "cache", progress=False)
    runner.run_cell(cell)
    return cell.record_path(root / "results"), root / "cache"


def test_verify_passes_on_a_fresh_record(fresh_record):
    path, cache = fresh_record
    done = invoke_condbench("verify", path, "--cache", cache, "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["passed"] and out["checked"] == [str(path)] and out["differences"] == []


def test_verify_fails_on_an_edited_metric(fresh_record, tmp_path):
    path, cache = fresh_record
    edited = tmp_path / path.name
    shutil.copy(path, edited)
    data = json.loads(edited.read_text())
    data["metrics"]["NDCG@5"] = data["metrics"]["NDCG@5"] - 0.05
    edited.write_text(json.dumps(data))
    done = invoke_condbench("verify", edited, "--cache", cache)
    assert done.exit_code == 1
    error = done.stderr.strip().splitlines()[-1]  # progress bars come before it
    assert (
        error == "error: 1 metric(s) of 1 record(s) moved beyond tolerance 0.0001: test NDCG@5"
    ), error
    moved = [line for line in done.stdout.splitlines() if line.startswith("  moved: ")]
    assert len(moved) == 1 and f"{edited}: test NDCG@5: recorded" in moved[0]


def test_compare_lists_each_moved_metric(fresh_record):
    record = read_record(fresh_record[0])
    moved = record.model_copy(
        update={"metrics": {**record.metrics, "AUC": record.metrics["AUC"] + 0.01}}
    )
    assert [d.metric for d in compare("r", record, moved, 1e-3)] == ["AUC"]
    assert compare("r", record, moved, 0.02) == []


def test_verify_rejects_a_missing_record(tmp_path):
    done = invoke_condbench("verify", tmp_path / "nope.json")
    assert done.exit_code == 2
    assert "no such record file or folder" in done.stderr


def test_verify_fails_a_record_made_from_another_dataset_before_training(fresh_record, tmp_path):
    path, cache = fresh_record
    edited = tmp_path / path.name
    data = json.loads(path.read_text())
    data["dataset"]["sha256"] = "cd" * 32
    edited.write_text(json.dumps(data))
    done = invoke_condbench("verify", edited, "--cache", cache)
    assert done.exit_code == 1
    lines = done.stderr.strip().splitlines()  # progress lines among them
    [said] = [line for line in lines if "the dataset differs" in line]
    assert said.startswith(f"{edited}: the dataset differs from the one the record was made from")
    assert f"recorded sha256 {'cd' * 6}…, loaded now " in said and said.endswith("; not re-run")
    assert lines.index(said) < len(lines) - 1 and lines[-1] == (
        f"error: 1 record(s) were made from another dataset than the one loaded now, e.g. {edited}"
    )
    assert "moved:" not in done.stdout  # not re-run
    report = json.loads(invoke_condbench("verify", edited, "--cache", cache, "--json").stdout)
    assert not report["passed"] and report["differences"] == []
    assert report["dataset_mismatches"][0]["recorded"] == "cd" * 32
