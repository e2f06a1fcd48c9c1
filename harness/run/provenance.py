"""Where a result came from: code version, packages, interpreter, machine, image, command."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from leaderboard.record import Environment

# distributions whose versions every record names (the ones that can move a metric)
RECORDED_PACKAGES = (
    "condbench",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "transformers",
    "mlflow",
    "optuna",
    "pydantic",
)
REPO_ROOT = Path(__file__).resolve().parents[1]
GIT_SHA_ENV = "CONDBENCH_GIT_SHA"  # set by the container runner: the image has no git checkout
IMAGE_DIGEST_ENV = "CONDBENCH_IMAGE_DIGEST"  # set by the container runner: the image's digest
HOST_DIGEST = "host"  # the image digest of a run outside the container


def git_sha(repo: Path = REPO_ROOT) -> str:
    """The checked-out commit, with ``+dirty`` when tracked files differ; ``unknown`` outside git.

    $CONDBENCH_GIT_SHA, when set (inside the container), is taken as it is.
    """
    if os.environ.get(GIT_SHA_ENV):
        return os.environ[GIT_SHA_ENV]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_name() -> str:
    """``cuda:<GPU name>`` when torch sees a GPU, else ``cpu``."""
    import torch  # lazy: torch takes seconds to import, and only a run needs it

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


def cpu_name() -> str:
    """``<CPU model> / <torch CPU capability>``, e.g. ``Intel(R) Xeon(R) Processor / AVX512``."""
    import torch  # lazy: as in device_name

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{model} / {torch.backends.cpu.get_cpu_capability()}"


def image_digest() -> str:
    """The container image digest when running inside the fixed image, else ``host``."""
    return os.environ.get(IMAGE_DIGEST_ENV) or HOST_DIGEST


def command_line(argv: list[str] | None = None) -> str:
    """The command as a user would type it again (``condbench run ...``)."""
    args = list(sys.argv if argv is None else argv)
    if args and Path(args[0]).name in ("condbench", "__main__.py", "cli.py"):
        args[0] = "condbench"
    return shlex.join(args)


def environment() -> Environment:
    return Environment(
        git_sha=git_sha(),
        image_digest=image_digest(),
        python=platform.python_version(),
        platform=platform.platform(),
        device=device_name(),
        cpu=cpu_name(),
        packages=package_versions(),
    )
