"""bench/gpu_check.sh as a user runs it: one line and exit 2 without CUDA; the dry run
(``--device cpu --tiny``) of every step end to end, and its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.sh"


def run_check(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    environ.pop("OUT", None)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=environ, timeout=600
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answer without CUDA")
def test_without_cuda_one_line_and_exit_2(tmp_path):
    done = run_check("--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("gpu_check: no CUDA device")
    assert not (tmp_path / "out").exists()  # nothing run, nothing written


@pytest.mark.slow
def test_dry_run_on_cpu_runs_every_step_and_writes_its_report(tmp_path, mirror):
    out = tmp_path / "out"
    done = run_check(
        "--device", "cpu", "--tiny", "--out", str(out), "--cache", str(tmp_path / "cache"),
        env={"CONDBENCH_MIRROR": str(mirror)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith(f"all checks passed; report: {out / 'gpu_check.json'}")
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["ok"] and report["tiny"]
    assert {k: report[k]["ok"] for k in ("environment", "gpu_tests", "mind", "movielens")} == {
        "environment": True, "gpu_tests": True, "mind": True, "movielens": True,
    }  # fmt: skip
    assert report["environment"]["torch"] == torch.__version__
    tests = report["gpu_tests"]
    assert tests["returncode"] == 0 and tests["tests"] >= 7
    if not torch.cuda.is_available():
        assert tests["skipped"] == tests["tests"]  # each gpu test skips, naming why
    mind = report["mind"]
    assert mind["scale"] == 0.002 and mind["train_positives"] > 0
    for name in ("naml", "nrms"):
        row = mind["models"][name]
        assert row["epoch_seconds"] > 0 and row["samples_per_second"] > 0
        assert row["peak_gpu_mib"] is None and 0 < row["train_loss"] < 10
        assert set(row["dev"]) >= {"AUC", "NDCG@5"}
    agreement = report["movielens"]
    assert agreement["tolerance"] == 0.02
    assert set(agreement["runs"]) == {"cpu", "cpu amp=True", "cpu amp=False"}
    assert set(agreement["runs"]["cpu"]["test"]) == {"NDCG@1", "NDCG@5", "Recall@1", "Recall@5"}
    # the same seed on the same device: bit for bit (amp is a CUDA-only setting)
    assert agreement["max_abs_difference"] == 0.0
    assert "MovieLens NAML, cpu amp=False - cpu: NDCG@1 +0.0000" in done.stdout
