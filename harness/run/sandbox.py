"""Run a submitted condenser module in a locked-down container of the condbench image.

`run_condenser_module` is the host side; `harness.run.sandboxed_condense` runs inside.

What the container gets (each a Docker setting, `container_settings`):
- no network (``network_mode="none"``), the default seccomp profile (never unconfined),
  every capability dropped, ``no-new-privileges``, a non-root user (`SANDBOX_USER`);
- a read-only root filesystem; the entry at ``/entry`` and the original's train view at
  ``/data``, both bind-mounted read-only; ``/output``, the one writable folder, a tmpfs
  volume of ``output_mb``; ``/tmp`` a tmpfs of ``tmp_mb``; no other host path;
- limits (`SandboxLimits`): CPUs, memory (no swap beyond it), processes, wall time; its log
  capped at 1 MiB.

The train view (`train_view`) holds the original's train split, items and the train users'
histories: no dev or test row reaches submitted code. The module's set comes back as a tar
stream, capped, read through the submission unpacker (no links, no unsafe paths), and is
then validated like any submitted train set and trained outside the sandbox.

Outcomes the host measures itself, each one line (`SandboxRejected`): past the wall time
(the container is killed), killed at the memory limit (Docker's OOM flag), a non-zero exit
(with the sandbox's last report line, escaped), no set written, output over its limit.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from harness.dataset import Dataset
from harness.errors import CondbenchError
from harness.run.sandboxed_condense import REPORT_PREFIX
from harness.typed import Settings
from harness.unprintable import escape_unprintable
from leaderboard.submission.archive import unpack_archive
from leaderboard.submission.limits import MIB, Limits
from leaderboard.submission.rejection import SubmissionRejected

SANDBOX_USER = "65534:65534"  # nobody:nogroup; owns only /output and /tmp
ENTRY_MOUNT = "/entry"
DATA_MOUNT = "/data"
OUTPUT_MOUNT = "/output"
OUTPUT_SET = "condensed"  # /output/condensed: where the module's set is saved
SANDBOX_LABEL = "condbench.sandbox"  # on every container and volume it makes
LOG_LIMIT = {"max-size": "1m", "max-file": "1"}
REPORT_MAX_CHARS = 300
STOP_GRACE_S = 5  # between the wall time and SIGKILL


class SandboxUnavailable(CondbenchError):
    """No Docker daemon, no docker package, or no sandbox image: exit 2."""


class SandboxRejected(SubmissionRejected):
    """The module was stopped or failed in the sandbox, or its output is unusable."""


class SandboxLimits(Settings):
    """What a condenser module may use (``condbench submit --sandbox-*`` sets them)."""

    label = "sandbox limit"

    cpus: Annotated[float, Field(gt=0, le=256)] = 2.0
    memory_mb: Annotated[int, Field(ge=256)] = 8192
    pids: Annotated[int, Field(ge=16)] = 256
    wall_s: Annotated[int, Field(ge=10)] = 3600
    output_mb: Annotated[int, Field(ge=1)] = 512
    tmp_mb: Annotated[int, Field(ge=1)] = 512


@dataclass(frozen=True)
class SandboxRun:
    """What came back: the output folder (holding `OUTPUT_SET`) and how it ran."""

    output: Path
    image_digest: str
    report: str  # the sandbox's last report line ("done: ...")
    wall_s: float


def train_view(original: Dataset) -> Dataset:
    """The original with its dev and test rows removed and only its train users' histories:
    everything a condenser may read, nothing the evaluation asks."""
    train = original.interactions[original.interactions["split"] == "train"]
    users = set(train["user_id"].tolist())
    histories = original.histories[original.histories["user_id"].isin(users)]
    meta = {**original.meta, "sandbox_view": "train only: no dev or test rows"}
    return replace(
        original,
        interactions=train.reset_index(drop=True),
        histories=histories.reset_index(drop=True),
        meta=meta,
    )


def stage_entry(root: Path, files: list[Path], target: Path) -> Path:
    """A copy of the entry's validated files (and nothing else), readable by the sandbox
    user: what the container mounts, so a later change of the user's folder is not seen."""
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, destination)
    return readable_by_all(target)


def readable_by_all(folder: Path) -> Path:
    """Folders 0755 and files 0644 below `folder` (the sandbox user is not the owner)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def container_settings(
    limits: SandboxLimits, *, entry: Path, data: Path, volume: str, command: list[str]
) -> dict[str, Any]:
    """The `docker.containers.create` keyword arguments of the module's container."""
    from docker.types import LogConfig, Mount

    return {
        "entrypoint": ["python", "-I", "-m", "harness.run.sandboxed_condense"],
        "command": command,
        "user": SANDBOX_USER,
        "network_mode": "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "mounts": [
            Mount(ENTRY_MOUNT, str(entry), type="bind", read_only=True),
            Mount(DATA_MOUNT, str(data), type="bind", read_only=True),
            Mount(OUTPUT_MOUNT, volume, type="volume"),
        ],
        "tmpfs": {"/tmp": f"size={limits.tmp_mb}m,mode=1777"},
        "environment": {"HOME": "/tmp", "OMP_NUM_THREADS": str(max(1, int(limits.cpus)))},
        "working_dir": "/tmp",
        "nano_cpus": int(limits.cpus * 1e9),
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "pids_limit": limits.pids,
        "log_config": LogConfig(type="json-file", config=LOG_LIMIT),
        "labels": {SANDBOX_LABEL: "module"},
        "detach": True,
    }


def output_volume_options(limits: SandboxLimits) -> dict[str, str]:
    """A tmpfs volume: its size is the output limit, owned by the sandbox user."""
    uid, gid = SANDBOX_USER.split(":")
    return {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"size={limits.output_mb}m,uid={uid},gid={gid},mode=0700",
    }


def docker_client():
    """A client of a daemon that answers, else `SandboxUnavailable` (one line)."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable(
            "the sandbox needs the `docker` Python package (pip install docker)"
        ) from None
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except (docker.errors.DockerException, OSError, ConnectionError, ValueError):
        raise SandboxUnavailable(
            "no Docker daemon answers: a condenser module runs only in the Docker sandbox; "
            "start Docker (docs/submitting.md), or submit the condensed set it produces"
        ) from None
    return client


def sandbox_image_id(client, image: str) -> str:
    """The local image's digest (its registry digest when it has one, else its Id); never
    pulled: the sandbox runs only an image built or loaded here."""
    import docker

    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"sandbox image {image!r} is not on this machine: build it (docs/container.md)"
        ) from None
    digests = found.attrs.get("RepoDigests") or []
    return digests[0] if digests else found.id


def _last_report(logs: bytes) -> str:
    """The sandbox's last report line, else the last line of its stderr, cut and escaped."""
    lines = [line.strip() for line in logs.decode("utf-8", "replace").splitlines() if line.strip()]
    reports = [line for line in lines if line.startswith(REPORT_PREFIX)]
    text = (reports or lines or ["(no output)"])[-1].removeprefix(REPORT_PREFIX).strip()
    if len(text) > REPORT_MAX_CHARS:
        text = text[:REPORT_MAX_CHARS] + "..."
    return escape_unprintable(text)


def _wait(container, wall_s: int) -> bool:
    """Wait up to `wall_s`; True when it ended by itself, False when it had to be killed."""
    import requests

    try:
        container.wait(timeout=wall_s)
        return True
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        container.kill()
        container.wait(timeout=STOP_GRACE_S * 6)
        return False


def _fetch_output(holder, target: Path, limits: SandboxLimits, label: str) -> Path:
    """The output volume as a tar stream (capped), unpacked safely below `target`."""
    cap = limits.output_mb * MIB + 16 * MIB  # tar headers on top of the tmpfs' bytes
    tar_path = target / "output.tar"
    output_limits = Limits(
        max_file_bytes=limits.output_mb * MIB, max_total_bytes=limits.output_mb * MIB
    )
    try:
        stream, _ = holder.get_archive(OUTPUT_MOUNT)  # members "output/..."
        written = 0
        with tar_path.open("wb") as out:
            for chunk in stream:
                written += len(chunk)
                if written > cap:
                    raise SandboxRejected(
                        f"its output is over the limit of {limits.output_mb} MiB", file=label
                    )
                out.write(chunk)
        unpacked = unpack_archive(tar_path, target / "returned", output_limits)
    except SandboxRejected:
        raise
    except SubmissionRejected as exc:  # a link, a device, an unsafe path, a size: named
        where = f"{exc.file}: " if exc.file else ""
        raise SandboxRejected(f"its output: {where}{exc.reason}", file=label) from None
    finally:
        tar_path.unlink(missing_ok=True)
    return unpacked / Path(OUTPUT_MOUNT).name


@contextlib.contextmanager
def _refused_by_docker() -> Iterator[None]:
    """Docker refusing a setting (e.g. more CPUs than the machine has) is one line, exit 2."""
    import docker

    try:
        yield
    except docker.errors.APIError as exc:
        explanation = exc.explanation or str(exc)
        raise SandboxUnavailable(
            f"Docker refused the sandbox: {escape_unprintable(str(explanation))}"
        ) from None


@contextlib.contextmanager
def _output_volume(client, limits: SandboxLimits, image: str) -> Iterator[tuple[str, Any]]:
    """The tmpfs volume and a holder container keeping it mounted (a tmpfs volume is empty
    again once no container holds it), both removed on the way out."""
    name = f"condbench-sandbox-{uuid.uuid4().hex[:12]}"
    volume = client.volumes.create(
        name, driver="local", driver_opts=output_volume_options(limits),
        labels={SANDBOX_LABEL: "output"},
    )  # fmt: skip
    holder = None
    try:
        from docker.types import Mount

        holder = client.containers.run(
            image, entrypoint=["sleep", "infinity"], command=[], user=SANDBOX_USER,
            network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            read_only=True, pids_limit=16, mem_limit="64m",
            mounts=[Mount(OUTPUT_MOUNT, name, type="volume", read_only=True)],
            labels={SANDBOX_LABEL: "holder"}, detach=True,
        )  # fmt: skip
        yield name, holder
    finally:
        if holder is not None:
            holder.remove(force=True)
        volume.remove(force=True)


def run_condenser_module(
    *,
    entry_root: Path,
    files: list[Path],
    module: str,
    class_name: str,
    params: dict[str, Any],
    budget: str,
    seed: int,
    original: Dataset,
    image: str,
    limits: SandboxLimits,
    workdir: Path,
) -> SandboxRun:
    """Run the module on `original`'s train view in the sandbox; the output lands below
    `workdir` (which also holds the staged train view). Raises `SandboxRejected` (one line)
    when the module is stopped, fails or writes no set, `SandboxUnavailable` without Docker."""
    client = docker_client()
    digest = sandbox_image_id(client, image)
    entry = stage_entry(entry_root, files, workdir / "entry")
    data = readable_by_all(train_view(original).save(workdir / "data"))
    label = f"condenser module {module}"
    command = [
        "--entry", ENTRY_MOUNT, "--module", module, "--class-name", class_name,
        "--params", json.dumps(params, sort_keys=True), "--budget", budget, "--seed", str(seed),
        "--data", DATA_MOUNT, "--output", f"{OUTPUT_MOUNT}/{OUTPUT_SET}",
    ]  # fmt: skip
    with _refused_by_docker(), _output_volume(client, limits, image) as (volume, holder):
        container = client.containers.create(
            image,
            **container_settings(
                limits, entry=entry.resolve(), data=data.resolve(), volume=volume,
                command=command,
            ),
        )  # fmt: skip
        try:
            started = time.monotonic()
            container.start()
            ended = _wait(container, limits.wall_s)
            wall = time.monotonic() - started
            container.reload()
            state = container.attrs["State"]
            report = _last_report(container.logs(stdout=False, stderr=True, tail=50))
        finally:
            container.remove(force=True)
        if not ended:
            raise SandboxRejected(
                f"stopped at the wall-time limit of {limits.wall_s} s", file=label
            )
        if state.get("OOMKilled"):
            raise SandboxRejected(
                f"killed at the memory limit of {limits.memory_mb} MiB", file=label
            )
        if state.get("ExitCode") != 0:
            raise SandboxRejected(
                f"failed in the sandbox (exit {state.get('ExitCode')}): {report}", file=label
            )
        output = _fetch_output(holder, workdir, limits, label)
    if not (output / OUTPUT_SET).is_dir():
        raise SandboxRejected("the module wrote no condensed set", file=label)
    return SandboxRun(output, digest, report, wall)


@contextlib.contextmanager
def sandbox_workdir() -> Iterator[Path]:
    """A private folder for one sandboxed run (staged data, returned output), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="condbench-sandbox-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
