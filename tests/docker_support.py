"""A real Docker daemon and the condbench image for the docker-marked tests.

`docker_daemon`: the daemon that answers; when none does and Docker is installed (and the
tests run as root), the fixture starts `dockerd` itself, as `scripts/container-check` does,
and stops it at the end of the session. Otherwise the tests skip, saying why.

`condbench_image`: the image built from this checkout's Dockerfile on the local base
(`condbench-base:local`, which `scripts/container-check` builds; $CONDBENCH_TEST_BASE_IMAGE
names another). Layers cached from an earlier build make a rebuild take seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = os.environ.get("CONDBENCH_TEST_BASE_IMAGE", "condbench-base:local")
TEST_IMAGE = "condbench:test"
DAEMON_START_S = 60


def _client_or_none():
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(version="auto")
        client.ping()
        return client
    except Exception:  # any failure to reach a daemon: none answers
        return None


def _start_dockerd(log: Path) -> subprocess.Popen | None:
    if shutil.which("dockerd") is None:
        pytest.skip("no Docker daemon answers and dockerd is not installed "
                    "(scripts/container-check installs it)")  # fmt: skip
    if os.geteuid() != 0:
        pytest.skip("no Docker daemon answers, and starting dockerd needs root")
    with log.open("wb") as out:
        process = subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + DAEMON_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.skip(f"dockerd exited at start (log: {log})")
        time.sleep(1)
        if _client_or_none() is not None:
            return process
    process.terminate()
    pytest.skip(f"dockerd did not answer within {DAEMON_START_S} s (log: {log})")


@pytest.fixture(scope="session")
def docker_client(tmp_path_factory) -> Iterator:
    client = _client_or_none()
    started = None
    if client is None:
        started = _start_dockerd(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
        client = _client_or_none()
    yield client
    if started is not None:
        started.terminate()
        try:
            started.wait(timeout=30)
        except subprocess.TimeoutExpired:
            started.kill()


@pytest.fixture(scope="session")
def condbench_image(docker_client) -> str:
    """The image built from the Dockerfile with BASE_IMAGE=<local base>."""
    import docker

    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"local base image {BASE_IMAGE} missing: scripts/container-check builds it")
    try:
        docker_client.images.build(
            path=str(REPO),
            buildargs={"BASE_IMAGE": BASE_IMAGE},
            tag=TEST_IMAGE,
            network_mode="host",  # the builder stage fetches the locked wheels from PyPI
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as exc:
        log = "".join(str(line.get("stream", line.get("error", ""))) for line in exc.build_log)
        pytest.fail(f"docker build failed: {exc}\n{log[-3000:]}")
    return TEST_IMAGE
