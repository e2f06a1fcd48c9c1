"""Bring one source file into the cache: the mirror first, then the network, sha256-checked.

Raw files live under ``<cache root>/downloads/<source>/<path>``. A file in the cache whose
hash matches is used as it is; a download is written to a temporary file and renamed only
after its hash checked out, so the cache never holds a half-written or unverified file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.paths import cache_root, mirror_dir
from harness.progress import Progress

CHUNK = 1 << 20
MIRROR_HINT = "pass --mirror DIR or set CONDBENCH_MIRROR to a folder holding a copy"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source: where it lives on the network and in a mirror, and its hash.

    ``sha256`` None means the publisher gives no fixed hash (e.g. a live dump); the file is
    then accepted as it is and its hash is recorded in the dataset manifest.
    """

    source: str
    path: str
    url: str
    mirror_path: str
    sha256: str | None

    def cache_path(self, cache: str | os.PathLike | None = None) -> Path:
        return cache_root(cache) / "downloads" / self.source / self.path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(remote: RemoteFile, path: Path, origin: str) -> None:
    if remote.sha256 is None:
        return
    actual = sha256_of(path)
    if actual != remote.sha256:
        raise DataError(  # named by where it came from, not by the temporary file checked
            f"sha256 mismatch: expected {remote.sha256}, got {actual} (the file was not kept)",
            file=origin.removeprefix("mirror "),
        )


def fetch_file(
    remote: RemoteFile,
    *,
    mirror: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
) -> Path:
    """Return the verified cached copy of `remote`, copying or downloading it on first use."""
    target = remote.cache_path(cache)
    if target.is_file():
        if remote.sha256 is None or sha256_of(target) == remote.sha256:
            return target
        target.unlink()  # a stale or damaged copy: fetch again
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        mirror_root = mirror_dir(mirror)
        mirrored = mirror_root / remote.mirror_path if mirror_root else None
        if mirrored is not None and mirrored.is_file():
            shutil.copyfile(mirrored, tmp)
            _check_hash(remote, tmp, f"mirror {mirrored}")
        else:
            _download(remote, tmp, mirror_root)
            _check_hash(remote, tmp, remote.url)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _download(remote: RemoteFile, dest: Path, mirror_root: Path | None) -> None:
    import httpx  # lazy: httpx takes ~0.1 s; harness.data is on condbench --help

    where = f" (not in mirror {mirror_root})" if mirror_root else ""
    try:
        with httpx.stream("GET", remote.url, follow_redirects=True, timeout=30.0) as response:
            if response.status_code != 200:
                raise DataError(
                    f"{remote.url} answered HTTP {response.status_code}{where}; {MIRROR_HINT}",
                    file=remote.path,
                )
            total = int(response.headers.get("content-length") or 0) or None
            with (
                dest.open("wb") as handle,
                Progress(
                    total, unit="B", unit_scale=True, desc=f"download {Path(remote.path).name}"
                ) as bar,
            ):
                for block in response.iter_bytes(CHUNK):
                    handle.write(block)
                    bar.update(len(block))
    except httpx.HTTPError as exc:
        raise DataError(
            f"source not reachable: {remote.url} ({type(exc).__name__}){where}; {MIRROR_HINT}",
            file=remote.path,
        ) from None
