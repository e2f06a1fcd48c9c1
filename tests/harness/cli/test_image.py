"""Build the image from the Dockerfile on a local base and run condbench inside it.

Slow and docker-marked. Needs Docker (the fixtures in tests/docker_support.py start a daemon
when none answers) and the local base image (`scripts/container-check` builds it: Debian
bookworm + python3.11 + torch==2.13.0 CPU, imported as condbench-base:local; set
$CONDBENCH_TEST_BASE_IMAGE for another). Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def image(condbench_image) -> str:
    return condbench_image


def condbench_in_container(
    image: str, *arguments: str, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """`condbench ARGUMENTS` inside `image`, through the runner, as a user would call it."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.container", image, *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def run_env(tmp_path, mirror) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDBENCH_")}
    env.update(
        CONDBENCH_MIRROR=str(mirror),
        CONDBENCH_CACHE=str(tmp_path / "cache"),
        CONDBENCH_RESULTS=str(tmp_path / "results"),
        PYTHONPATH=str(REPO),
    )
    return env


def test_version_inside_the_image(image, run_env):
    done = condbench_in_container(image, "--version", env=run_env)
    assert done.returncode == 0, done.stderr
    assert f"condbench, version {__version__}" in done.stdout


def test_data_stats_inside_the_image_match_the_host(image, run_env, tmp_path):
    inside = condbench_in_container(
        image, "data", "stats", "movielens-tfdcon", "--json", env=run_env
    )
    assert inside.returncode == 0, inside.stderr
    stats = json.loads(inside.stdout)  # exactly one JSON object on stdout; logs went to stderr
    assert stats["dataset"] == "movielens-tfdcon"
    assert stats["splits"]["test"]["interactions"] == 5122
    host = subprocess.run(
        [sys.executable, "-m", "harness.cli", "data", "stats", "movielens-tfdcon", "--json"],
        cwd=REPO,
        env={**run_env, "CONDBENCH_CACHE": str(tmp_path / "host-cache")},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert stats == json.loads(host.stdout)
    # the cache the container wrote is on the host, owned by the caller
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert written and all(p.stat().st_uid == os.getuid() for p in written)


def test_exit_code_is_passed_through(image, run_env):
    done = condbench_in_container(image, "data", "stats", "no-such-dataset", env=run_env)
    assert done.returncode == 2
    assert "no-such-dataset" in done.stderr


def test_image_runs_as_non_root_without_compilers(image, docker_client):
    output = docker_client.containers.run(
        image,
        entrypoint=[
            "sh",
            "-c",
            "id -u; for c in gcc cc g++ c++ make; do command -v $c; done; true",
        ],
        remove=True,
        network_mode="none",
    ).decode()
    lines = output.split()
    assert lines[0] != "0"
    assert lines[1:] == [], f"build tools in the final image: {lines[1:]}"


def test_image_digest_names_the_built_image(image, docker_client):
    from harness.cli.container import image_digest

    assert image_digest(image) == docker_client.images.get(image).id


def test_grid_cell_inside_the_image(image, run_env, tmp_path):
    """`condbench run CONFIG --container IMAGE --only ...`: one tiny cell, run inside the
    image; its record lands in the host's results folder and names the image digest."""
    sys.path.insert(0, str(REPO / "tests" / "harness"))
    from factories import tiny_config, tiny_dataset, write_config

    from harness.cli.container import image_digest

    grid = tmp_path / "grid"
    grid.mkdir()
    tiny_dataset().save(grid / "tiny-dataset")  # beside the config: mounted with it
    config = write_config(grid / "tiny.yaml", tiny_config("./tiny-dataset"))
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(config), "--container", image]
        + ["--only", "method=random,seed=0", "--results", str(results), "--json"],
        cwd=REPO,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["ran"] == 1
    (record_path,) = [p for p in results.rglob("*.json") if "mlruns" not in p.parts]
    record = json.loads(record_path.read_text())
    assert record["environment"]["image_digest"] == image_digest(image)
    assert record["method"]["name"] == "random"
    assert record_path.stat().st_uid == os.getuid()
