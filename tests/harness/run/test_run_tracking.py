"""Tracking: a store that fails at the start or mid-run never costs a record, and a server
that does not answer costs the grid one deadline (real sockets, the real MLflow client)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import condbench_argv, condbench_env
from factories import tiny_config, write_config

from harness.errors import ConfigError
from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells, parse_only, select_cells
from harness.run.tracking import (
    TRACKING_DEADLINE_S,
    Tracker,
    TrackingTarget,
    default_target,
    metric_key,
)
from leaderboard.record import read_record, read_records


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


def test_a_cells_metrics_reach_the_store_in_one_request(tiny_folder, mlflow_store, tmp_path):
    database = tmp_path / "mlflow.db"
    shutil.copy(mlflow_store["uri"].removeprefix("sqlite:///"), database)
    tracker = Tracker(TrackingTarget(f"sqlite:///{database}", str(tmp_path / "mlruns"), "batch"))
    assert tracker.connect()
    client = tracker._client
    requests: list[tuple[int, int]] = []  # (metrics, params) of each log_batch
    log_batch = client.log_batch

    def counted(run_id, metrics=(), params=(), tags=(), **kwargs):
        requests.append((len(metrics), len(params)))
        return log_batch(run_id, metrics=metrics, params=params, tags=tags, **kwargs)

    client.log_batch = counted
    config, cell = one_cell(tiny_folder, tmp_path)
    record = GridRunner(
        config, tmp_path / "results", tracker, cache=tmp_path / "cache", progress=False
    ).run_cell(cell)
    metric_requests = [n for n, params in requests if n]
    assert len(metric_requests) == 1 and all(not params for n, params in requests if n)
    (run,) = tracker.runs_of(cell.key, status="FINISHED")
    epochs = client.get_metric_history(run.info.run_id, metric_key("dev", "NDCG@5"))
    assert [m.step for m in epochs] == list(range(1, record.timings.epochs + 1))
    assert run.data.metrics[metric_key("test", "NDCG@5")] == record.metrics["NDCG@5"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.json", "llm_cache_stats.json", "record.json"} <= artifacts
    assert tracker.failures == []


def test_buffered_metrics_are_sent_when_their_time_is_up(mlflow_store, tmp_path):
    database = tmp_path / "mlflow.db"
    shutil.copy(mlflow_store["uri"].removeprefix("sqlite:///"), database)
    tracker = Tracker(TrackingTarget(f"sqlite:///{database}", str(tmp_path / "mlruns"), "live"))
    run = tracker.start("a-long-cell", run_name="a-long-cell")
    run.log_metrics("dev", {"NDCG@5": 0.5}, step=1)
    history = lambda: tracker._client.get_metric_history(run.run_id, "dev/NDCG_at_5")  # noqa: E731
    assert history() == []  # buffered
    run.flush_after_s = 0.0  # as after 30 s of a long cell
    run.log_metrics("dev", {"NDCG@5": 0.6}, step=2)
    assert [(m.step, m.value) for m in history()] == [(1, 0.5), (2, 0.6)]
    run.log_metrics("dev", {"NDCG@5": 0.7}, step=3)
    run.finish()
    assert len(history()) == 3 and tracker.failures == []


def test_artifacts_of_a_named_sqlite_store_go_beside_it(tmp_path):
    database = tmp_path / "elsewhere" / "store.db"
    target = default_target(tmp_path / "results", "exp", uri=f"sqlite:///{database}")
    assert target.uri == f"sqlite:///{database}"
    assert target.artifact_root == str((tmp_path / "elsewhere" / "mlruns").resolve())
    server = default_target(tmp_path / "results", "exp", uri="http://127.0.0.1:5000")
    assert server.artifact_root is None


# ---- a tracking server that does not answer: the grid goes on within the deadline ----------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real TCP server on loopback that accepts every connection and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in [*held, listener]:
        connection.close()


@pytest.fixture
def closed_port() -> str:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def timed_grid(path: Path, results: Path, uri: str, cache: Path) -> tuple[int, list, str]:
    """`condbench run` as a subprocess with MLflow's own HTTP settings (none set here):
    (exit code, [(seconds since start, stderr line)], stdout)."""
    env = {k: v for k, v in condbench_env(cache).items() if not k.startswith("MLFLOW_HTTP")}
    argv = condbench_argv("run", path, "--results", results, "--only", "seed=0",
                          "--tracking-uri", uri, "--json")  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = []
    stdout = io.StringIO()
    reader = threading.Thread(target=lambda: stdout.write(process.stdout.read()), daemon=True)
    reader.start()
    for line in process.stderr:
        lines.append((time.monotonic() - started, line.rstrip("\n")))
    code = process.wait(timeout=GRID_TIMEOUT_S)
    reader.join()
    return code, lines, stdout.getvalue()


GRID_TIMEOUT_S = 240  # MLflow's defaults (120 s per request, 7 retries) would be far over it
MARGIN_S = 3.0


@pytest.mark.parametrize("server", ["silent_server", "closed_port"])
def test_a_server_that_does_not_answer_costs_the_grid_one_deadline(
    server, request, tiny_folder, tmp_path
):
    uri = request.getfixturevalue(server)
    path = write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder))
    results = tmp_path / "results"
    code, lines, stdout = timed_grid(path, results, uri, tmp_path / "cache")
    assert code == 0, "\n".join(line for _, line in lines)
    warnings = [(at, line) for at, line in lines if "warning: MLflow tracking failed" in line]
    assert len(warnings) == 1, lines  # reported once, when it happened
    assert "reaching the server" in warnings[0][1] and uri in warnings[0][1]
    grid_line = next(at for at, line in lines if line.startswith("grid: "))
    assert warnings[0][0] - grid_line <= TRACKING_DEADLINE_S + MARGIN_S
    out = json.loads(stdout)
    assert (out["ran"], len(out["tracking"]["failures"])) == (2, 1)
    assert len(read_records(results)) == 2


def test_a_server_falling_silent_mid_grid_costs_one_request_deadline(
    tiny_folder, silent_server, tmp_path
):
    """Tracking that worked up to now (no probe here): the first unanswered request ends
    after the deadline, without retries; every later call is skipped."""
    config = load_config(write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder)))
    cells = select_cells(expand_cells(config), parse_only("seed=0"))
    stream = TimedStream()
    tracker = Tracker(TrackingTarget(silent_server, None, "silent", deadline_s=1), stream=stream)
    runner = GridRunner(
        config, tmp_path / "results", tracker, cache=tmp_path / "cache", progress=False
    )
    runner.original(cells[0].dataset)  # loaded before the clock starts
    started = time.monotonic()
    for cell in cells:
        runner.run_cell(cell)
    assert [cell.record_path(tmp_path / "results").is_file() for cell in cells] == [True, True]
    assert len(tracker.failures) == 1 and "starting a run" in tracker.failures[0]
    assert stream.getvalue().count("warning: MLflow tracking failed") == 1
    assert 0.9 <= stream.first_write - started <= 1 + MARGIN_S  # one deadline, no retries
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ  # set for the call only


class TimedStream(io.StringIO):
    """A stream that remembers when it was first written to."""

    first_write: float = 0.0

    def write(self, text: str) -> int:
        self.first_write = self.first_write or time.monotonic()
        return super().write(text)


def test_the_deadline_is_a_config_setting_named_on_error(tmp_path, tiny_folder):
    config = tiny_config(tiny_folder, tracking={"deadline_s": 0})
    with pytest.raises(ConfigError, match=r"tracking\.deadline_s"):
        load_config(write_config(tmp_path / "bad.yaml", config))
    config = tiny_config(tiny_folder, tracking={"deadline_s": 2})
    assert load_config(write_config(tmp_path / "ok.yaml", config)).tracking.deadline_s == 2
