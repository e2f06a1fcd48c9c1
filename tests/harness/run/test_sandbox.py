"""Condenser modules in the Docker sandbox, against a real daemon and the condbench image.

Slow and docker-marked (tests/docker_support.py starts a daemon when Docker is installed,
else these skip saying why). A benign module goes end to end: `condbench submit` runs it in
the sandbox, trains on its set and the leaderboard shows it. Each hostile module is
contained: the test asserts its one-line outcome and that nothing outside the sandbox's
output folder changed (the entry, the staged train view, the host around them).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.run.sandbox import (
    SANDBOX_LABEL,
    SandboxLimits,
    SandboxRejected,
    run_condenser_module,
)
from leaderboard.submission.pipeline import validate_entry_root

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
TIGHT = SandboxLimits(cpus=1, memory_mb=768, pids=64, wall_s=20, output_mb=16, tmp_mb=16)
# the fork bomb meets the process limit before 64 Python processes fill 768 MiB
LIMITS = {"fork-bomb": TIGHT.model_copy(update={"pids": 16})}

BENIGN = '''
import numpy as np

from condensers.base import Condenser, NoParams, selected_users_train, train_positives


class MostActiveUsers(Condenser):
    """The k users with the most train positives (ties: the lower id)."""

    name = "most-active"
    summary = "the budget's most active train users"

    def condense(self, dataset, budget, rng, ctx):
        counts = train_positives(dataset)["user_id"].value_counts()
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        users = np.array([user for user, _ in ranked[: budget.limit(len(counts))]])
        return dataset.with_train(selected_users_train(dataset, users), variant="most-active",
                                  meta={"negatives_from": "original"})
'''

HOSTILE_BODIES = {
    "network": """
        import socket
        socket.create_connection(("1.1.1.1", 443), timeout=5)
    """,
    "test-split": """
        import glob, pandas as pd
        rows = dataset.interactions
        assert (rows["split"] != "train").sum() == 0, "dev/test rows reached the sandbox"
        for path in glob.glob("/data/*.parquet"):
            if "interactions" in path:
                assert set(pd.read_parquet(path)["split"]) == {"train"}, "test rows in /data"
        open(HOST_MIRROR + "/movielens-tfdcon/test.tsv").read()
    """,
    "write-outside": """
        errors = []
        for path in ["/entry/pwned", "/data/pwned", "/pwned", "/opt/pwned",
                     HOST_OUTSIDE + "/pwned"]:
            try:
                with open(path, "w") as handle:
                    handle.write("x")
            except OSError as exc:
                errors.append(exc)
        if len(errors) < 5:
            return dataset  # something was written: the host sees an outcome it must refuse
        raise errors[0]
    """,
    "fork-bomb": """
        import os
        while True:
            os.fork()
    """,
    "memory-hog": """
        hog = []
        while True:
            hog.append(bytearray(64 * 1024 * 1024))
    """,
    "endless-loop": """
        while True:
            pass
    """,
    "link-in-output": """
        import os
        os.symlink("/etc/passwd", "/output/leak")
        return dataset.with_train(dataset.split("train"), variant="linked")
    """,
    "huge-output": """
        import os
        os.makedirs("/output/condensed", exist_ok=True)
        with open("/output/condensed/huge.bin", "wb") as handle:
            while True:
                handle.write(b"x" * (1 << 20))
    """,
}

# case -> what its one line must say
OUTCOMES = {
    "network": "network access refused (the sandbox has no network)",
    "test-split": "FileNotFoundError",
    "write-outside": "a write outside the output folder was refused (read-only file system)",
    "fork-bomb": "a resource limit was reached (processes)",
    "memory-hog": f"killed at the memory limit of {TIGHT.memory_mb} MiB",
    "endless-loop": f"stopped at the wall-time limit of {TIGHT.wall_s} s",
    "huge-output": "the output folder or /tmp is full",
    "link-in-output": "links are not accepted",
}


def hostile_source(case: str, host_outside: Path, host_mirror: Path) -> str:
    indented = []
    base_indent = None
    for line in HOSTILE_BODIES[case].strip("\n").splitlines():  # keep nested indentation
        if base_indent is None:
            base_indent = len(line) - len(line.lstrip())
        indented.append("        " + line[base_indent:] if line.strip() else "")
    body = "\n".join(indented)
    return (
        "from condensers.base import Condenser\n\n"
        f"HOST_OUTSIDE = {str(host_outside)!r}\nHOST_MIRROR = {str(host_mirror)!r}\n\n\n"
        "class Hostile(Condenser):\n"
        f"    name = {case!r}\n    summary = 'hostile'\n\n"
        "    def condense(self, dataset, budget, rng, ctx):\n"
        f"{body}\n"
    )


def tree_digest(root: Path) -> str:
    """sha256 over every path, mode and file content below `root`."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(f"{path.relative_to(root)}:{path.stat().st_mode}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_entry(root: Path, source: str, *, method: str, dataset: str, budget: str) -> Path:
    root.mkdir(parents=True)
    (root / "method.py").write_text(source)
    manifest = {
        "method": method, "version": "1", "authors": ["condbench tests"],
        "paper_url": "https://example.org/paper", "params": {}, "dataset": dataset,
        "budget": budget, "condenser_module": "method.py",
    }  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def sandbox_leftovers(client) -> list[str]:
    containers = client.containers.list(all=True, filters={"label": SANDBOX_LABEL})
    volumes = client.volumes.list(filters={"label": SANDBOX_LABEL})
    return [c.name for c in containers] + [v.name for v in volumes]


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_hostile_module_is_contained(case, condbench_image, docker_client, tmp_path, mirror):
    from factories import tiny_dataset

    outside = tmp_path / "outside"  # a host folder beside the sandbox's, never mounted
    outside.mkdir()
    (outside / "canary.txt").write_text("untouched")
    entry = write_entry(tmp_path / "entry", hostile_source(case, outside, mirror),
                        method=f"hostile-{case}", dataset="tiny", budget="2")  # fmt: skip
    workdir = tmp_path / "work"
    workdir.mkdir()
    validated = validate_entry_root(entry, load_original_dataset=lambda _: tiny_dataset())
    before = {root: tree_digest(root) for root in (entry, outside)}

    with pytest.raises(SandboxRejected) as raised:
        run_condenser_module(
            entry_root=entry, files=validated.files, module="method.py", class_name="Hostile",
            params={}, budget="2", seed=0, original=tiny_dataset(), image=condbench_image,
            limits=LIMITS.get(case, TIGHT), workdir=workdir,
        )  # fmt: skip

    message = str(raised.value)
    assert "\n" not in message and message.startswith("submission rejected: condenser module")
    assert OUTCOMES[case] in message, message
    assert {root: tree_digest(root) for root in (entry, outside)} == before
    staged = workdir / "data"  # the train view the module read: unchanged, no dev/test rows
    assert not (staged / "pwned").exists() and not (entry / "pwned").exists()
    assert sorted(p.name for p in workdir.iterdir()) in (
        ["data", "entry"],
        ["data", "entry", "returned"],
    )
    assert sandbox_leftovers(docker_client) == []


def test_benign_module_end_to_end_reaches_the_leaderboard(condbench_image, tmp_path, mirror):
    """`condbench submit` on a condenser-module entry: sandboxed condensation, validation,
    training (NAML, one epoch, seed 0) and the record; then the board shows the entry."""
    entry = write_entry(tmp_path / "entry", BENIGN, method="most-active-users",
                        dataset="movielens-tfdcon", budget="47")  # fmt: skip
    config = {
        "name": "sandbox-test",
        "grid": {"datasets": ["movielens-tfdcon"], "condensers": [{"name": "original"}],
                 "recommenders": ["naml"], "seeds": [0]},
        "training": {"max_epochs": 1, "batch_size": 256, "threads": 2},
    }  # fmt: skip
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    results = tmp_path / "results"
    env = {
        **os.environ,
        "CONDBENCH_MIRROR": str(mirror),
        "CONDBENCH_CACHE": str(tmp_path / "cache"),
    }
    cli = [sys.executable, "-m", "harness.cli"]
    done = subprocess.run(
        [*cli, "submit", str(entry), "--config", str(config_path), "--results-dir", str(results),
         "--sandbox-image", condbench_image, "--sandbox-wall-s", "600", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["kind"] == "condenser_module" and len(summary["records"]) == 1
    record = json.loads(Path(summary["records"][0]).read_text())
    assert record["method"]["source"] == "submission"
    assert record["dataset"]["num_train_users"] == 47
    assert record["submission"]["kind"] == "condenser_module"
    assert record["submission"]["entry_sha256"] == summary["entry_sha256"]
    assert record["submission"]["sandbox_image_digest"].startswith("sha256:")
    assert record["submission"]["sandbox_limits"]["wall_s"] == 600
    assert 0 < record["metrics"]["AUC"] <= 1

    site = tmp_path / "site"
    built = subprocess.run(
        [*cli, "leaderboard", "build", str(results), "-o", str(site)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    assert "most-active-users" in (site / "index.html").read_text()
