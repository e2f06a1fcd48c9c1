"""The sandbox's settings and train view, and `condbench submit` without a daemon (fast).

The containment itself is tested against a real daemon in test_sandbox.py (slow, docker).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from factories import tiny_dataset

from harness.errors import ConfigError
from harness.run.sandbox import (
    DATA_MOUNT,
    ENTRY_MOUNT,
    OUTPUT_MOUNT,
    SANDBOX_USER,
    SandboxLimits,
    container_settings,
    output_volume_options,
    train_view,
)
from harness.run.sandboxed_condense import failure_line

REPO = Path(__file__).resolve().parents[3]


def test_container_settings_lock_the_module_down(tmp_path):
    limits = SandboxLimits(cpus=1.5, memory_mb=1024, pids=32, wall_s=60, output_mb=8, tmp_mb=4)
    settings = container_settings(
        limits, entry=tmp_path / "e", data=tmp_path / "d", volume="vol", command=["x"]
    )
    assert settings["network_mode"] == "none"
    assert settings["cap_drop"] == ["ALL"]
    assert settings["security_opt"] == ["no-new-privileges"]  # and not seccomp=unconfined
    assert settings["read_only"] is True
    assert settings["user"] == SANDBOX_USER and not SANDBOX_USER.startswith("0")
    assert "privileged" not in settings and "devices" not in settings
    mounts = {m["Target"]: m for m in settings["mounts"]}
    assert set(mounts) == {ENTRY_MOUNT, DATA_MOUNT, OUTPUT_MOUNT}  # no other host path
    assert mounts[ENTRY_MOUNT]["ReadOnly"] and mounts[DATA_MOUNT]["ReadOnly"]
    assert mounts[OUTPUT_MOUNT]["Type"] == "volume" and not mounts[OUTPUT_MOUNT]["ReadOnly"]
    assert settings["nano_cpus"] == 1_500_000_000
    assert settings["mem_limit"] == settings["memswap_limit"] == "1024m"  # no swap beyond it
    assert settings["pids_limit"] == 32
    assert settings["tmpfs"] == {"/tmp": "size=4m,mode=1777"}
    assert "size=8m" in output_volume_options(limits)["o"]


def test_the_train_view_holds_no_dev_or_test_row():
    original = tiny_dataset()
    view = train_view(original)
    assert set(view.interactions["split"]) == {"train"}
    assert len(view.split("train")) == len(original.split("train"))
    train_users = set(original.split("train")["user_id"])
    assert set(view.histories["user_id"]) == train_users & set(original.histories["user_id"])
    assert view.items.equals(original.items)


def test_limits_name_the_bad_key():
    with pytest.raises(ConfigError, match="sandbox limit 'memory_mb'"):
        SandboxLimits(memory_mb=10)


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "no network"),
        (socket.gaierror(-3, "Temporary failure in name resolution"), "no network"),
        (OSError(errno.EROFS, "Read-only file system"), "outside the output folder"),
        (BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"), "(processes)"),
        (OSError(errno.ENOSPC, "No space left on device"), "is full"),
        (ValueError("bad"), "failed: ValueError: bad"),
    ],
)
def test_the_sandbox_names_the_limit_a_failure_met(exc, says):
    assert says in failure_line(exc)


def test_submit_without_a_daemon_says_so_in_one_line_and_exits_2(tmp_path, mirror):
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "method.py").write_text(
        "from condensers.base import Condenser\n\n\nclass Mine(Condenser):\n"
        "    name = 'mine'\n    summary = 'x'\n\n"
        "    def condense(self, dataset, budget, rng, ctx):\n        return dataset\n"
    )
    manifest = {
        "method": "mine", "version": "1", "authors": ["t"], "paper_url": "https://example.org",
        "params": {}, "dataset": "movielens-tfdcon", "budget": "47",
        "condenser_module": "method.py",
    }  # fmt: skip
    (entry / "manifest.json").write_text(json.dumps(manifest))
    config = REPO / "configs" / "movielens.yaml"
    env = {**os.environ, "CONDBENCH_MIRROR": str(mirror),
           "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "submit", str(entry), "--config", str(config),
         "--results-dir", str(tmp_path / "results")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no Docker daemon answers" in errors[0]
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))
