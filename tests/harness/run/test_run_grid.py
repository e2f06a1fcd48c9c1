"""`condbench run`: records, MLflow runs and artifacts, skipping done cells, surviving SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from cli_runner import condbench_argv, condbench_env, invoke_condbench, run_condbench
from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.runner import expand_cells, parse_only, pending_cells, select_cells
from harness.run.tracking import FINISHED, Tracker, TrackingTarget
from leaderboard.record import read_record, read_records


def tracker_for(store: dict, experiment: str) -> Tracker:
    tracker = Tracker(TrackingTarget(store["uri"], store["artifacts"], experiment))
    assert tracker.connect()
    return tracker


@pytest.fixture(scope="module")
def grid_run(tiny_folder, mlflow_store, tmp_path_factory) -> dict:
    """The tiny grid (4 cells) run once by the real CLI."""
    root = tmp_path_factory.mktemp("grid")
    config = tiny_config(tiny_folder, tracking={"experiment": "grid-run"})
    path = write_config(root / "tiny.yaml", config)
    results = root / "results"
    done = run_condbench("run", path, "--results", results, "--tracking-uri", mlflow_store["uri"], "--json",
                         cache=root / "cache")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {
        "path": path,
        "results": results,
        "cache": root / "cache",
        "out": json.loads(done.stdout),
    }


def test_run_writes_one_record_per_cell(grid_run):
    records = read_records(grid_run["results"])
    assert sorted(r.cell_key for r in records) == sorted(
        ("tiny", method, budget, "naml", seed)
        for method, budget in (("original", "all"), ("random", "8"))
        for seed in (0, 1)
    )
    for record in records:
        assert set(record.metrics) == {"AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5"}
        assert record.dev_metrics and record.reference["chance"]
        assert record.config["cell"]["method"] == record.method.name
        assert record.timings.epochs >= 1 and record.timings.train_s > 0
        assert record.environment.python and record.command.startswith("condbench run")
    random_record = next(r for r in records if r.method.name == "random")
    assert random_record.sizes.ratio_overall < 1
    assert random_record.dataset.num_train_users == 8
    assert random_record.method.params["text_tokens"] == 3


def test_run_prints_one_json_summary(grid_run):
    out = grid_run["out"]
    assert (out["cells"], out["ran"], out["skipped"]) == (4, 4, 0)
    methods = {row["method"]: row for row in out["summary"]}
    assert methods["original"]["quality"] == pytest.approx(1.0)
    assert 0 < methods["random"]["ratio_overall"] < 1
    assert out["tracking"]["failures"] == []


def test_mlflow_holds_each_cell_once_with_metrics_and_artifacts(grid_run, mlflow_store):
    tracker = tracker_for(mlflow_store, "grid-run")
    for cell in expand_cells(load_config(grid_run["path"])):
        runs = tracker.runs_of(cell.key)
        assert [r.info.status for r in runs] == [FINISHED], cell.key
        run = runs[0]
        assert "test/NDCG_at_5" in run.data.metrics and "dev/NDCG_at_5" in run.data.metrics
        assert run.data.params["recommender"] == "naml"
        history = tracker._client.get_metric_history(run.info.run_id, "dev/NDCG_at_5")
        assert [m.step for m in history] == list(range(1, len(history) + 1))  # one point per epoch
        artifacts = {a.path for a in tracker._client.list_artifacts(run.info.run_id)}
        assert {"config.json", "record.json", "llm_cache_stats.json"} <= artifacts
        if cell.method == "random":
            assert "condensed_set" in artifacts


def test_second_run_skips_done_cells(grid_run, mlflow_store):
    done = invoke_condbench("run", grid_run["path"], "--results", grid_run["results"], "--only", "seed=0",
                            "--tracking-uri", mlflow_store["uri"], "--json", "--cache", grid_run["cache"])  # fmt: skip
    assert done.exit_code == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["cells"], out["ran"], out["skipped"]) == (2, 0, 2)


def test_results_show_json(grid_run):
    done = run_condbench("results", "show", grid_run["results"], "--json", cache=grid_run["cache"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["count"] == 4
    assert {row["method"] for row in out["records"]} == {"original", "random"}


def test_only_filter_and_pending(tiny_folder, tmp_path):
    cells = expand_cells(load_config(write_config(tmp_path / "c.yaml", tiny_config(tiny_folder))))
    chosen = select_cells(cells, parse_only("model=naml,seed=1,method=random|original"))
    assert [c.key for c in chosen] == [
        "tiny/original/budget=all/naml/seed=1",
        "tiny/random/budget=8/naml/seed=1",
    ]
    path = chosen[0].record_path(tmp_path / "results")
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    todo, done = pending_cells(chosen, tmp_path / "results")
    assert (todo, done) == ([chosen[1]], [chosen[0]])
    with pytest.raises(Exception, match="unknown key 'colour'"):
        parse_only("colour=red")


def test_sigkill_mid_grid_then_resume_loses_and_repeats_nothing(
    tiny_folder, mlflow_store, tmp_path
):
    config = tiny_config(tiny_folder, tracking={"experiment": "crash"})
    path = write_config(tmp_path / "crash.yaml", config)
    results, cache = tmp_path / "results", tmp_path / "cache"
    argv = condbench_argv("run", path, "--results", results, "--tracking-uri", mlflow_store["uri"])
    process = subprocess.Popen(argv, env=condbench_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while (
        not list(results.rglob("seed=*.json"))
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.05)
    time.sleep(0.5)  # into the next cell
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = {p: p.read_bytes() for p in results.rglob("seed=*.json")}
    assert 1 <= len(before) < 4, "the kill must land mid-grid"

    done = run_condbench(
        "run",
        path,
        "--results",
        results,
        "--tracking-uri",
        mlflow_store["uri"],
        "--json",
        cache=cache,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ran"] == 4 - len(before) and out["skipped"] == len(before)
    for record_file, content in before.items():  # done cells were not run again
        assert record_file.read_bytes() == content
    assert len(read_records(results)) == 4  # every record present and valid
    assert not list(results.rglob("*.tmp"))
    tracker = tracker_for(mlflow_store, "crash")
    finished = {
        cell.key: len(tracker.runs_of(cell.key, FINISHED))
        for cell in expand_cells(load_config(path))
    }
    assert all(count == 1 for count in finished.values()), finished
    for cell_key in finished:
        assert [r.info.status for r in tracker.runs_of(cell_key, "RUNNING")] == []


def test_record_read_back_equals_written(grid_run):
    path = next(grid_run["results"].rglob("seed=0.json"))
    record = read_record(path)
    assert record.relative_path() == path.relative_to(grid_run["results"])


@pytest.mark.slow
def test_parallel_workers_run_each_cell_once(tiny_folder, mlflow_store, tmp_path):
    path = write_config(
        tmp_path / "par.yaml", tiny_config(tiny_folder, tracking={"experiment": "parallel"})
    )
    done = run_condbench("run", path, "--results", tmp_path / "results", "--workers", "2",
                         "--tracking-uri", mlflow_store["uri"], "--json", cache=tmp_path / "cache")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ran"] == 4
    assert len(read_records(tmp_path / "results")) == 4
    tracker = tracker_for(mlflow_store, "parallel")
    for cell in expand_cells(load_config(path)):
        assert len(tracker.runs_of(cell.key, FINISHED)) == 1
