"""Run a condbench command inside the fixed image, through the Docker SDK.

Inside the container the paths are fixed (docs/container.md):

    /data      the data mirror, read-only          CONDBENCH_MIRROR=/data
    /cache     the cache root                      CONDBENCH_CACHE=/cache
    /results   result records (and a local MLflow  CONDBENCH_RESULTS=/results
               store, when it lies under them)
    /work      the host working directory, read-only; the container's working directory
    /inputs/N  any other host folder named on the command line (for a file: its folder),
               read-only
    /stores/N  the folder of a local tracking/storage URI (sqlite:///, file://), writable

`build_spec` turns a host command line into a `ContainerSpec` without touching Docker;
`run_in_container` runs a spec; `maybe_run_in_container` is what `run`, `submit` and
`verify` call first so that `--container IMAGE` re-runs them inside the image.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from harness.cli.output import say
from harness.errors import CondbenchError

CONTAINER_DATA = "/data"
CONTAINER_CACHE = "/cache"
CONTAINER_RESULTS = "/results"
CONTAINER_WORKDIR = "/work"
CONTAINER_INPUTS = "/inputs"
CONTAINER_STORES = "/stores"

IMAGE_DIGEST_ENV = "CONDBENCH_IMAGE_DIGEST"  # = harness.run.provenance.IMAGE_DIGEST_ENV
HOST_DIGEST = "host"
GPU_ENV = "CONDBENCH_CONTAINER_GPU"  # "1" / "0" force the GPU request on / off; unset: detect

# host variable -> the fixed value it takes inside the container
FIXED_PATH_ENV: dict[str, str] = {
    "CONDBENCH_MIRROR": CONTAINER_DATA,
    "CONDBENCH_CACHE": CONTAINER_CACHE,
    "CONDBENCH_RESULTS": CONTAINER_RESULTS,
}
# host variables with these prefixes are passed through (path values rewritten)
PASSTHROUGH_ENV_PREFIXES = ("CONDBENCH_", "MLFLOW_", "OPTUNA_", "OPENAI_", "HF_HUB_OFFLINE")
# URI schemes whose path part is a local store that the run writes to
LOCAL_STORE_SCHEMES = ("sqlite:///", "file://")
CONTAINER_OPTION = "--container"


class ContainerError(CondbenchError):
    """Docker is missing, the daemon does not answer, or the image cannot be found."""


@dataclass(frozen=True)
class Mount:
    """One bind mount: a host folder or file seen at `container` inside the container."""

    host: str
    container: str
    read_only: bool


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to start one condbench command inside an image."""

    image: str
    command: tuple[str, ...]  # arguments after the image's entry point `condbench`
    mounts: tuple[Mount, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    user: str = ""  # "uid:gid"
    working_dir: str = CONTAINER_WORKDIR
    gpu: bool = False
    network_mode: str = "host"  # local tracking servers and LLM endpoints stay reachable

    def docker_create_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `docker.client.containers.create`."""
        # lazy: docker takes ~0.15 s to import (this is on run --help); only --container needs it
        from docker.types import DeviceRequest
        from docker.types import Mount as DockerMount

        kwargs: dict[str, Any] = {
            "image": self.image,
            "command": list(self.command),
            "environment": dict(self.environment),
            "user": self.user,
            "working_dir": self.working_dir,
            "network_mode": self.network_mode,
            "mounts": [
                DockerMount(target=m.container, source=m.host, type="bind", read_only=m.read_only)
                for m in self.mounts
            ],
            "detach": True,
            "labels": {"org.condbench.command": " ".join(self.command)[:1000]},
        }
        if self.gpu:
            kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return kwargs


# ---------------------------------------------------------------- building a spec (pure)


@dataclass
class _PathMapper:
    """Maps host paths to container paths, adding read-only/writable mounts as needed."""

    cwd: str
    mounts: list[Mount]

    def _covering_mount(self, host_path: str) -> Mount | None:
        best: Mount | None = None
        for mount in self.mounts:
            inside = host_path == mount.host or host_path.startswith(mount.host.rstrip("/") + "/")
            if inside and (best is None or len(mount.host) > len(best.host)):
                best = mount
        return best

    def _to_container(self, host_path: str, mount: Mount) -> str:
        rest = os.path.relpath(host_path, mount.host)
        return mount.container if rest == "." else f"{mount.container}/{rest}"

    def _add_mount(self, host_path: str, root: str, writable: bool) -> Mount:
        for mount in self.mounts:
            if mount.host == host_path and mount.container.startswith(root + "/"):
                return mount  # named twice: one mount
        index = sum(1 for m in self.mounts if m.container.startswith(root + "/"))
        name = os.path.basename(host_path.rstrip("/")) or "root"
        mount = Mount(host=host_path, container=f"{root}/{index}/{name}", read_only=not writable)
        self.mounts.append(mount)
        return mount

    def path(self, value: str) -> str:
        """A command-line path: rewritten when its meaning inside would differ."""
        host_path = os.path.normpath(os.path.join(self.cwd, value))
        mount = self._covering_mount(host_path)
        relative = not os.path.isabs(value)
        if mount is not None:
            if relative and mount.container == CONTAINER_WORKDIR:
                return value  # the working directory is the same folder inside
            return self._to_container(host_path, mount)
        if os.path.isdir(host_path):
            return self._to_container(
                host_path, self._add_mount(host_path, CONTAINER_INPUTS, False)
            )
        if os.path.exists(host_path):  # a file: its folder, so files beside it come along
            folder = self._add_mount(os.path.dirname(host_path), CONTAINER_INPUTS, False)
            return self._to_container(host_path, folder)
        return value  # not a host path we know: a name, or a path inside the image

    def store_uri(self, uri: str) -> str:
        """A local store URI (sqlite:///path, file://path): its folder is mounted writable."""
        scheme = next(s for s in LOCAL_STORE_SCHEMES if uri.startswith(s))
        host_path = os.path.normpath(os.path.join(self.cwd, uri[len(scheme) :]))
        folder = os.path.dirname(host_path) if scheme == "sqlite:///" else host_path
        mount = self._covering_mount(host_path)
        if mount is None or mount.read_only:
            mount = self._add_mount(folder, CONTAINER_STORES, True)
            rest = os.path.relpath(host_path, folder)
            inside = mount.container if rest == "." else f"{mount.container}/{rest}"
        else:
            inside = self._to_container(host_path, mount)
        return scheme + inside  # sqlite:////abs/path, file:///abs/path

    def value(self, value: str) -> str:
        """An option value or argument: store URIs and paths rewritten, other words kept."""
        if value.startswith(LOCAL_STORE_SCHEMES):
            return self.store_uri(value)
        if "://" in value or value.startswith("-") or not value:
            return value
        return self.path(value)


def rewrite_argv(argv: Sequence[str], mapper: _PathMapper) -> list[str]:
    """Rewrite the host paths of a command line to the paths they have inside the container.

    Relative paths inside the working directory stay as they are (the working directory is
    mounted at /work and is the container's working directory); absolute paths and relative
    ones that lie under /data, /cache or /results, or outside the working directory, are
    rewritten, mounting the host paths they name when no mount covers them yet.
    """
    rewritten: list[str] = []
    for token in argv:
        if token.startswith("--") and "=" in token:
            option, value = token.split("=", 1)
            rewritten.append(f"{option}={mapper.value(value)}")
        elif token.startswith("-"):
            rewritten.append(token)
        else:
            rewritten.append(mapper.value(token))
    return rewritten


def strip_container_option(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """Split `--container IMAGE` / `--container=IMAGE` off a command line."""
    image: str | None = None
    rest: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            rest.append(token)
            rest.extend(tokens)
            break
        if token == CONTAINER_OPTION:
            image = next(tokens, None)
            if not image:
                raise click.UsageError(f"{CONTAINER_OPTION} needs an IMAGE")
        elif token.startswith(CONTAINER_OPTION + "="):
            image = token.split("=", 1)[1]
        else:
            rest.append(token)
    return image, rest


def build_spec(
    image: str,
    argv: Sequence[str],
    *,
    cwd: str,
    environ: Mapping[str, str],
    uid: int,
    gid: int,
    gpu: bool,
    image_digest: str | None = None,
) -> ContainerSpec:
    """The container spec for running `condbench ARGV` inside `image`, from explicit inputs.

    Host folders: the mirror ($CONDBENCH_MIRROR, read-only; no /data mount when unset), the
    cache root ($CONDBENCH_CACHE, else ~/.cache/condbench) and the results folder
    ($CONDBENCH_RESULTS, else CWD/results). The container runs as `uid:gid`, so the files
    it writes into the host folders belong to the caller.
    """
    home = environ.get("HOME", "/")
    cwd = os.path.abspath(cwd)

    def host(value: str) -> str:
        if value == "~" or value.startswith("~/"):
            value = home + value[1:]
        return os.path.normpath(os.path.join(cwd, value))

    mounts = [Mount(cwd, CONTAINER_WORKDIR, read_only=True)]
    if environ.get("CONDBENCH_MIRROR"):
        mounts.append(Mount(host(environ["CONDBENCH_MIRROR"]), CONTAINER_DATA, read_only=True))
    cache = environ.get("CONDBENCH_CACHE") or os.path.join(home, ".cache", "condbench")
    mounts.append(Mount(host(cache), CONTAINER_CACHE, read_only=False))
    results = host(environ.get("CONDBENCH_RESULTS") or "results")
    mounts.append(Mount(results, CONTAINER_RESULTS, read_only=False))
    if results.startswith(cwd + "/"):  # also writable where a relative `results/` points
        inside_work = f"{CONTAINER_WORKDIR}/{os.path.relpath(results, cwd)}"
        mounts.append(Mount(results, inside_work, read_only=False))

    mapper = _PathMapper(cwd=cwd, mounts=mounts)
    command = rewrite_argv(argv, mapper)

    environment = {
        name: mapper.value(value)
        for name, value in sorted(environ.items())
        if name.startswith(PASSTHROUGH_ENV_PREFIXES)
        and name not in FIXED_PATH_ENV
        and name not in (IMAGE_DIGEST_ENV, GPU_ENV)
    }
    environment.update(
        {name: inside for name, inside in FIXED_PATH_ENV.items() if name != "CONDBENCH_MIRROR"}
    )
    if environ.get("CONDBENCH_MIRROR"):
        environment["CONDBENCH_MIRROR"] = CONTAINER_DATA
    environment["HOME"] = "/tmp"  # the caller's uid has no home inside the image
    environment["PYTHONUNBUFFERED"] = "1"  # logs stream as they are written
    environment[IMAGE_DIGEST_ENV] = image_digest or image

    return ContainerSpec(
        image=image,
        command=tuple(command),
        mounts=tuple(mapper.mounts),
        environment=environment,
        user=f"{uid}:{gid}",
        working_dir=CONTAINER_WORKDIR,
        gpu=gpu,
    )


# ---------------------------------------------------------------- the host and the daemon


def host_has_gpu(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to request GPUs: $CONDBENCH_CONTAINER_GPU (1/0) if set, else nvidia-smi
    lists a GPU, else torch (when already imported) sees CUDA."""
    environ = os.environ if environ is None else environ
    forced = environ.get(GPU_ENV, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi:
        try:
            listing = subprocess.run(
                [nvidia_smi, "-L"], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            listing = None
        if listing is not None and listing.returncode == 0 and "GPU" in listing.stdout:
            return True
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


def spec_from_host(
    image: str, argv: Sequence[str], *, image_digest: str | None = None
) -> ContainerSpec:
    """`build_spec` with this process's working directory, environment, user and GPUs.

    The image has no git checkout, so the host's commit travels in $CONDBENCH_GIT_SHA and
    the records written inside name the code that produced them.
    """
    # lazy: harness.run.provenance loads pandas (~0.4 s); this module is on run --help
    from harness.run.provenance import GIT_SHA_ENV, git_sha

    environ = dict(os.environ)
    environ.setdefault(GIT_SHA_ENV, git_sha())
    return build_spec(
        image,
        argv,
        cwd=os.getcwd(),
        environ=environ,
        uid=os.getuid(),
        gid=os.getgid(),
        gpu=host_has_gpu(),
        image_digest=image_digest,
    )


def _docker_client():
    try:
        import docker  # lazy: docker takes ~0.15 s to import; only --container needs it
    except ImportError as exc:
        raise ContainerError(
            "the `docker` Python package is not installed (pip install docker)"
        ) from exc
    try:
        client = docker.from_env(version="auto")  # the daemon may speak an older API
        client.ping()
    except (docker.errors.DockerException, OSError, ConnectionError, ValueError) as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise ContainerError(
            f"no Docker daemon answers at {where}: start one or run without {CONTAINER_OPTION}"
        ) from exc
    return client


def _get_image(client, image: str):
    import docker  # lazy: docker takes ~0.15 s to import; only --container needs it

    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    try:
        return client.images.pull(image)
    except docker.errors.DockerException as exc:
        raise ContainerError(
            f"image {image!r} is neither local nor pullable: build it (docs/container.md)"
        ) from exc


def image_digest(image: str) -> str:
    """The image's registry digest (`repo@sha256:...`) when it has one, else its Id."""
    found = _get_image(_docker_client(), image)
    repo_digests = found.attrs.get("RepoDigests") or []
    return repo_digests[0] if repo_digests else found.id


def current_image_digest() -> str:
    """The digest of the image this process runs in, or "host"; stored in every record."""
    from harness.run.provenance import image_digest  # lazy: this module is on the CLI start-up path

    return image_digest()


def prepare_host_folders(spec: ContainerSpec) -> None:
    """Create the writable host folders, so Docker does not create them owned by root."""
    for mount in spec.mounts:
        if not mount.read_only:
            Path(mount.host).mkdir(parents=True, exist_ok=True)
        elif not os.path.exists(mount.host):
            raise ContainerError(
                f"{mount.host}: no such file or folder to mount at {mount.container}"
            )


class _Sink:
    """Writes container output to a text stream, decoding UTF-8 across chunk borders."""

    def __init__(self, target: IO[str]):
        self.target = target
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(self, chunk: bytes | None) -> None:
        if chunk:
            self.target.write(self.decoder.decode(chunk))
            self.target.flush()


def _demultiplexed(container) -> Iterator[tuple[bytes | None, bytes | None]]:
    return container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)


def run_in_container(
    spec: ContainerSpec, *, stream: IO[str] = sys.stderr, stdout: IO[str] | None = None
) -> int:
    """Run `spec`: create, start, stream its stderr to `stream` and its stdout to `stdout`
    (this process's stdout by default, so `--json` output stays on stdout), wait, and
    return the command's exit code. The container is removed whatever happens."""
    stdout = sys.stdout if stdout is None else stdout
    client = _docker_client()
    _get_image(client, spec.image)
    prepare_host_folders(spec)
    container = client.containers.create(**spec.docker_create_kwargs())
    try:
        output = _demultiplexed(container)
        container.start()
        out_sink, err_sink = _Sink(stdout), _Sink(stream)
        for out_chunk, err_chunk in output:
            out_sink.write(out_chunk)
            err_sink.write(err_chunk)
        return int(container.wait().get("StatusCode", 1))
    finally:
        container.remove(force=True)


# ---------------------------------------------------------------- the CLI side

container_option = click.option(
    CONTAINER_OPTION,
    "container",
    metavar="IMAGE",
    default=None,
    help="Run this command inside the condbench image IMAGE (Docker; see docs/container.md).",
)


def _command_arguments(argv: Sequence[str]) -> list[str]:
    """Drop the program name when `argv` is a whole `sys.argv`."""
    if argv and (
        os.path.basename(argv[0]) in ("condbench", "condbench.exe") or argv[0].endswith(".py")
    ):
        return list(argv[1:])
    return list(argv)


def maybe_run_in_container(ctx_argv: Sequence[str] | None = None) -> None:
    """Called first by `run`, `submit`, `verify`: when the command line (`sys.argv` by
    default; the arguments after `condbench`, or the whole `sys.argv`) has `--container
    IMAGE`, run the same command line without it inside IMAGE, with
    $CONDBENCH_IMAGE_DIGEST set to the image's digest, and exit with its exit code.
    Without `--container` it returns and the command runs on the host."""
    argv = _command_arguments(sys.argv if ctx_argv is None else ctx_argv)
    image, rest = strip_container_option(argv)
    if image is None:
        return
    if os.environ.get(IMAGE_DIGEST_ENV):
        raise ContainerError(
            f"already inside the image {os.environ[IMAGE_DIGEST_ENV]}: drop {CONTAINER_OPTION}"
        )
    digest = image_digest(image)
    say(f"container: {image} ({digest}): condbench {' '.join(rest)}", err=True)
    sys.exit(run_in_container(spec_from_host(image, rest, image_digest=digest)))


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("image")
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def run_command(image: str, arguments: tuple[str, ...]) -> None:
    """Run `condbench ARGUMENTS...` inside IMAGE, e.g.
    `python -m harness.cli.container condbench:latest data stats movielens-tfdcon --json`."""
    try:
        maybe_run_in_container([CONTAINER_OPTION, image, *arguments])
    except CondbenchError as exc:
        say(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    run_command()
