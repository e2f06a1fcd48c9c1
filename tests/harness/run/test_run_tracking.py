"""Tracking: a store that fails at the start or mid-run never costs a record."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells, parse_only, select_cells
from harness.run.tracking import Tracker, TrackingTarget, default_target, metric_key
from leaderboard.record import read_record


def one_cell(tiny_folder, root: Path):
    config = load_config(write_config(root / "tiny.yaml", tiny_config(tiny_folder)))
    return config, select_cells(expand_cells(config), parse_only("method=random,seed=1"))[0]


def test_store_failing_mid_run_still_writes_the_record(tiny_folder, mlflow_store, tmp_path):
    database = tmp_path / "mlflow.db"
    shutil.copy(mlflow_store["uri"].removeprefix("sqlite:///"), database)  # a ready, empty store
    stream = io.StringIO()
    tracker = Tracker(
        TrackingTarget(f"sqlite:///{database}", str(tmp_path / "mlruns"), "mid-run"), stream=stream
    )
    assert tracker.connect()
    with sqlite3.connect(database) as connection:  # the store breaks after the run has started
        connection.execute("DROP TABLE metrics")
        connection.execute("DROP TABLE latest_metrics")
    config, cell = one_cell(tiny_folder, tmp_path)
    runner = GridRunner(
        config, tmp_path / "results", tracker, cache=tmp_path / "cache", progress=False
    )
    record = runner.run_cell(cell)
    assert read_record(cell.record_path(tmp_path / "results")) == record
    assert len(tracker.failures) == 1 and "logging metrics" in tracker.failures[0]
    assert stream.getvalue().count("warning: MLflow tracking failed") == 1


def test_unreachable_store_is_reported_and_the_grid_goes_on(tiny_folder, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    stream = io.StringIO()
    tracker = Tracker(TrackingTarget(f"sqlite:///{blocker}/mlflow.db", None, "x"), stream=stream)
    assert not tracker.connect()
    config, cell = one_cell(tiny_folder, tmp_path)
    GridRunner(
        config, tmp_path / "results", tracker, cache=tmp_path / "cache", progress=False
    ).run_cell(cell)
    assert cell.record_path(tmp_path / "results").is_file()
    assert "opening the store" in tracker.failures[0] and "warning:" in stream.getvalue()


def test_default_store_is_sqlite_in_the_results_folder(tmp_path):
    target = default_target(tmp_path / "results", "exp")
    assert target.uri == f"sqlite:///{(tmp_path / 'results' / 'mlflow.db').resolve()}"
    assert target.artifact_root == str((tmp_path / "results" / "mlruns").resolve())
    server = default_target(tmp_path, "exp", uri="http://127.0.0.1:5000")
    assert server.uri == "http://127.0.0.1:5000" and server.artifact_root is None


def test_telemetry_is_off_and_metric_names_are_mlflow_safe():
    import os

    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true" and os.environ["DO_NOT_TRACK"] == "1"
    assert metric_key("test", "NDCG@5") == "test/NDCG_at_5"


def test_runs_left_running_by_a_kill_are_settled(mlflow_store, tmp_path):
    database = tmp_path / "mlflow.db"
    shutil.copy(mlflow_store["uri"].removeprefix("sqlite:///"), database)
    tracker = Tracker(TrackingTarget(f"sqlite:///{database}", str(tmp_path / "mlruns"), "kills"))
    tracker.start("done-cell", run_name="done-cell")  # killed after its record was written
    tracker.start("open-cell", run_name="open-cell")  # killed mid-cell
    assert tracker.settle_done({"done-cell"}) == 1
    assert [r.info.status for r in tracker.runs_of("done-cell")] == ["FINISHED"]
    assert [r.info.status for r in tracker.runs_of("open-cell")] == ["RUNNING"]
    tracker.start("open-cell", run_name="open-cell").finish()  # the cell runs again
    assert sorted(r.info.status for r in tracker.runs_of("open-cell")) == ["FINISHED", "KILLED"]
    assert tracker.failures == []


def test_artifacts_of_a_named_sqlite_store_go_beside_it(tmp_path):
    database = tmp_path / "elsewhere" / "store.db"
    target = default_target(tmp_path / "results", "exp", uri=f"sqlite:///{database}")
    assert target.uri == f"sqlite:///{database}"
    assert target.artifact_root == str((tmp_path / "elsewhere" / "mlruns").resolve())
    server = default_target(tmp_path / "results", "exp", uri="http://127.0.0.1:5000")
    assert server.artifact_root is None
