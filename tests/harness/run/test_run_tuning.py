"""`condbench tune`: seeded TPE on dev Quality, resumable, shared by workers (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest
from cli_runner import condbench_argv, condbench_env
from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.runner import GridRunner
from harness.run.tuning import Tuner, driver_url, redact, tune
from leaderboard.record import read_record

COMPLETE = optuna.trial.TrialState.COMPLETE


def completed(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=driver_url(storage)).get_trials(
        states=(COMPLETE,)
    )


@pytest.fixture
def tiny_tuning(tiny_folder, tmp_path):
    config = load_config(write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder)))
    runner = GridRunner(config, tmp_path / "results", cache=tmp_path / "cache", progress=False)
    return config, runner, tmp_path


def test_tune_stops_resumes_and_scores_the_best_on_test(tiny_tuning):
    config, runner, root = tiny_tuning
    storage = f"sqlite:///{root / 'optuna.sqlite'}"
    first = tune(config, runner, trials=2, study="resume-me", storage=storage)
    assert first.trials_run_here == [0, 1] and first.trials_complete == 2
    resumed = tune(config, runner, trials=3, study="resume-me", storage=storage)
    assert resumed.trials_run_here == [2] and resumed.trials_complete == 3
    trials = completed(storage, "resume-me")
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert all(2 <= t.params["text_tokens"] <= 6 and 0 < t.value <= 1.5 for t in trials)
    assert resumed.best_value == max(t.value for t in trials)
    record = read_record(resumed.record_path)
    assert record.method.name == "random-tuned"
    assert record.tuning.study == "resume-me" and record.tuning.trial == resumed.best_trial
    assert record.method.params["text_tokens"] == resumed.best_params["text_tokens"]
    assert set(record.metrics) >= {"NDCG@5", "Recall@5"}


def test_tpe_is_seeded(tiny_tuning):
    config, runner, root = tiny_tuning
    suggested = []
    for name in ("a", "b"):
        tuner = Tuner(
            config=config,
            runner=runner,
            storage=f"sqlite:///{root / f'{name}.sqlite'}",
            study_name="s",
        )
        study = tuner.open_study()
        suggested.append([tuner.suggest(study.ask()) for _ in range(3)])
    assert suggested[0] == suggested[1]
    assert len({s["text_tokens"] for s in suggested[0]}) == 3


def test_storage_password_is_never_recorded():
    assert (
        redact("postgresql://bench:s3cret@db.example:5432/optuna")
        == "postgresql://bench@db.example:5432/optuna"
    )
    assert redact("sqlite:////tmp/x.sqlite") == "sqlite:////tmp/x.sqlite"


def run_two_workers(config_path: Path, storage: str, root: Path, trials: int) -> list[dict]:
    argv = condbench_argv("tune", config_path, "--trials", trials, "--study", "shared", "--storage", storage,
                          "--results", root / "results", "--no-tracking", "--json")  # fmt: skip
    workers = [
        subprocess.Popen(
            argv,
            env=condbench_env(root / "cache"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    return [json.loads(stdout) for stdout, _ in outputs]


def check_shared(reports: list[dict], storage: str, trials: int) -> None:
    done = completed(storage, "shared")
    numbers = sorted(t.number for t in done)
    assert len(done) == trials and len(set(numbers)) == trials
    ran_here = [n for report in reports for n in report["trials_run_here"]]
    assert sorted(ran_here) == numbers  # each trial ran in exactly one worker
    # which worker took how many depends on start-up times; each trial names its worker
    assert all(t.user_attrs["worker"] for t in done)
    assert sum(report["trials_complete"] >= trials for report in reports) >= 1


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tiny_folder, tmp_path):
    config_path = write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder))
    storage = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    reports = run_two_workers(config_path, storage, tmp_path, trials=6)
    check_shared(reports, storage, trials=6)


# ---- a real PostgreSQL server, started by the test ---------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed (Debian package postgresql: initdb, pg_ctl)")
    as_user: list[str] = []
    folder = Path(
        tempfile.mkdtemp(prefix="condbench-pg-")
    )  # under /tmp: reachable by the server's user
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root and no runuser to start PostgreSQL as another user")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()

    def as_server(*argv: str | Path, timeout: int = 120) -> None:
        subprocess.run(
            [*as_user, *map(str, argv)],
            check=True,
            capture_output=True,
            cwd=folder,
            timeout=timeout,
        )

    try:
        as_server(initdb, "-D", data, "-U", "bench", "--auth=trust")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_server(pg_ctl, "-D", data, "-o", options, "-l", folder / "log", "-w", "start")
        url = f"postgresql://bench@127.0.0.1:{port}/postgres"
        optuna.storages.RDBStorage(driver_url(url))  # the server answers
        yield url
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                cwd=folder,
            )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(tiny_folder, tmp_path, postgres_url):
    config_path = write_config(tmp_path / "tiny.yaml", tiny_config(tiny_folder))
    reports = run_two_workers(config_path, postgres_url, tmp_path, trials=6)
    check_shared(reports, postgres_url, trials=6)
    assert reports[0]["storage"] == postgres_url  # no password in it to redact
