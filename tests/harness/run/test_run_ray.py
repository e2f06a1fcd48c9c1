"""`condbench run --executor ray`: without Ray (one line, exit 2), the driver's logic against a
stand-in `ray` module (each cell submitted once, records written by the driver, tracking
routed through the driver), and a real local Ray cluster with a worker killed mid-cell (slow)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import pytest
from cli_runner import condbench_env, invoke_condbench
from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.ray_grid import cell_resources, is_local_store, ray_available
from harness.run.runner import expand_cells
from harness.run.tracking import FINISHED, Tracker, TrackingTarget
from leaderboard.record import read_records


def test_without_ray_executor_ray_says_so_and_exits_2(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when not installed
    path = write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder))
    result = invoke_condbench("run", path, "--executor", "ray", "--results", tmp_path / "r")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--executor ray needs Ray" in lines[0], result.output
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))


def test_address_needs_executor_ray(tiny_folder, tmp_path):
    path = write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder))
    result = invoke_condbench("run", path, "--address", "127.0.0.1:1", "--results", tmp_path)
    assert result.exit_code == 2 and "--executor ray" in result.output


def test_cell_resources_follow_training_threads_and_device(tiny_folder, tmp_path):
    def config(**training):
        settings = {**tiny_config(tiny_folder)["training"], **training}
        return load_config(
            write_config(tmp_path / "c.yaml", tiny_config(tiny_folder, training=settings))
        )

    assert cell_resources(config(threads=3)) == {"num_cpus": 3.0}
    assert cell_resources(config(threads=2, device="cuda")) == {"num_cpus": 2.0, "num_gpus": 1.0}
    assert cell_resources(config(device="cpu")) == {"num_cpus": 1.0}


def test_local_stores_are_told_from_servers():
    assert is_local_store("sqlite:////tmp/x/mlflow.db") and is_local_store("file:///tmp/mlruns")
    assert is_local_store("/tmp/mlruns")
    assert not is_local_store("http://mlflow:5000") and not is_local_store("postgresql://db/x")


class _Ref:
    def __init__(self, value):
        self.value = value


def fake_ray(calls: dict) -> types.ModuleType:
    """A stand-in `ray`: tasks run at once in this process, results come back in order."""
    ray = types.ModuleType("ray")

    def remote(**options):
        calls["remote_options"] = options

        def wrap(function):
            class Task:
                def options(self, **resources):
                    calls["resources"] = resources
                    return self

                def remote(self, *args):
                    calls.setdefault("submitted", []).append(args[1]["seed"])
                    return _Ref(function(*args))

            return Task()

        return wrap

    def wait(refs, num_returns=1):
        return [refs[0]], refs[1:]

    ray.init = lambda **kwargs: calls.update(init=kwargs)
    ray.shutdown = lambda: calls.update(shutdown=True)
    ray.remote = remote
    ray.wait = wait
    ray.get = lambda ref: ref.value
    return ray


def test_driver_submits_each_cell_once_and_writes_the_records(
    tiny_folder, mlflow_store, tmp_path, monkeypatch
):
    calls: dict = {}
    monkeypatch.setitem(sys.modules, "ray", fake_ray(calls))
    config = tiny_config(tiny_folder, tracking={"experiment": "ray-driver"})
    path = write_config(tmp_path / "tiny.yaml", config)
    results = tmp_path / "results"
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path / "cache"))
    args = ("run", path, "--executor", "ray", "--address", "127.0.0.1:6379", "--results", results,
            "--tracking-uri", mlflow_store["uri"], "--only", "method=random", "--json")  # fmt: skip
    result = invoke_condbench(*args)
    assert result.exit_code == 0, result.output
    assert calls["init"]["address"] == "127.0.0.1:6379" and calls["shutdown"]
    assert calls["remote_options"] == {"max_retries": 3, "retry_exceptions": False}
    assert calls["resources"] == {"num_cpus": 1.0}
    assert sorted(calls["submitted"]) == [0, 1]  # each pending cell once
    records = read_records(results)
    assert sorted(r.seed for r in records) == [0, 1]
    assert not list(results.rglob("*.tmp"))
    # the SQLite store is local: the driver logged one FINISHED run per cell from its record
    tracker = Tracker(TrackingTarget(mlflow_store["uri"], mlflow_store["artifacts"], "ray-driver"))
    assert tracker.connect()
    for cell in expand_cells(load_config(path)):
        if cell.method == "random":
            runs = tracker.runs_of(cell.key, FINISHED)
            assert len(runs) == 1 and runs[0].data.metrics, cell.key

    calls.clear()  # resume: every cell done, nothing submitted
    again = invoke_condbench(*args)
    assert again.exit_code == 0 and "submitted" not in calls and "init" not in calls


# ---- a real Ray cluster (slow) -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_cell_workers() -> list[int]:
    """Pids of Ray workers running a cell now (Ray titles a busy worker `ray::<task>`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::run_cell_task"):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def ray_cluster(tmp_path):
    """A one-machine Ray cluster on loopback with 2 CPUs; stopped (its process group) after."""
    if not ray_available():
        pytest.skip("ray is not installed (pip install 'condbench[ray]')")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths
    ray_bin = Path(sys.executable).parent / "ray"
    env = {**condbench_env(tmp_path / "cache"), "PYTHONPATH": str(Path.cwd())}
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
         "--object-store-memory=100000000", f"--temp-dir={temp_dir}", "--block"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        raylet = Path(temp_dir) / "session_latest" / "sockets" / "raylet"
        deadline = time.monotonic() + 90
        while not raylet.exists():
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, "the Ray head did not start in 90 s"
            time.sleep(0.5)
        yield {"address": f"127.0.0.1:{port}", "env": env}
    finally:
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(head.pid, sig)  # the group this fixture started, by its id
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.mark.slow
def test_ray_cluster_runs_the_grid_once_despite_a_killed_worker(
    tiny_folder, mlflow_store, tmp_path, ray_cluster
):
    config = tiny_config(tiny_folder, tracking={"experiment": "ray-cluster"})
    path = write_config(tmp_path / "tiny.yaml", config)
    results = tmp_path / "results"
    driver = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(path), "--executor", "ray",
         "--address", ray_cluster["address"], "--results", str(results),
         "--tracking-uri", mlflow_store["uri"], "--json"],
        env=ray_cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    killed = None
    deadline = time.monotonic() + 240
    while driver.poll() is None and killed is None and time.monotonic() < deadline:
        busy = _ray_cell_workers()
        if busy:
            os.kill(busy[0], signal.SIGKILL)  # a worker dies mid-cell: Ray retries its task
            killed = busy[0]
        time.sleep(0.05)
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    assert killed is not None, "no Ray worker was seen running a cell"
    assert json.loads(out)["ran"] == 4
    files = sorted(p.relative_to(results) for p in results.rglob("seed=*.json"))
    assert len(files) == len(set(files)) == 4  # every cell once, none lost
    records = read_records(results)
    assert sorted(r.cell_key for r in records) == sorted(
        ("tiny", method, budget, "naml", seed)
        for method, budget in (("original", "all"), ("random", "8"))
        for seed in (0, 1)
    )
    assert not list(results.rglob("*.tmp")) and not list(results.rglob(".*"))
    tracker = Tracker(TrackingTarget(mlflow_store["uri"], mlflow_store["artifacts"], "ray-cluster"))
    assert tracker.connect()
    for cell in expand_cells(load_config(path)):
        assert len(tracker.runs_of(cell.key, FINISHED)) == 1, cell.key
