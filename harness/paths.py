"""Where things live: the one cache root, the mirror folder, atomic writes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.unprintable import escape_unprintable


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """The cache root: `override`, else $CONDBENCH_CACHE, else ~/.cache/condbench."""
    root = override or os.environ.get("CONDBENCH_CACHE") or Path.home() / ".cache" / "condbench"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The mirror folder tried before the network: `override`, else $CONDBENCH_MIRROR. A
    folder that does not exist is said so on stderr (once per process and folder), then
    left out: the data comes from the cache or the network."""
    value = override or os.environ.get("CONDBENCH_MIRROR")
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        _say_missing_mirror(str(folder))
        return None
    return folder


@functools.cache
def _say_missing_mirror(folder: str) -> None:
    print(
        f"warning: mirror folder {escape_unprintable(folder)} does not exist: "
        "using the cache and the network instead",
        file=sys.stderr,
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def created_file_mode() -> int:
    """The mode a new file gets under this process's umask (0644 under the usual 022):
    what atomic writes give their files, instead of a temporary file's 0600."""
    return 0o666 & ~_umask()


def created_folder_mode() -> int:
    """The mode a new folder gets under the umask (0755 under 022), not mkdtemp's 0700."""
    return 0o777 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, created_file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) for the block: processes
    that ask for the same path take turns. The lock goes when the holder exits, even killed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` as a whole.

    On any error the temporary folder is removed and `path` is left as it was, so nothing
    half-written is ever visible under `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        tmp.chmod(created_folder_mode())
        yield tmp
        _move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, path: Path, attempts: int = 5) -> None:
    """Rename `tmp` to `path`, moving a `path` that is there (or that another process writes
    meanwhile, e.g. two grid workers caching the same content-keyed set) aside first."""
    for _ in range(attempts):
        try:
            os.replace(tmp, path)  # `path` absent: one atomic rename
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
        try:
            os.replace(path, old)  # onto the empty folder `old`; gone already: just retry
        except FileNotFoundError:
            pass
        try:
            os.replace(tmp, path)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise OSError(errno.EEXIST, f"{path} keeps being written by another process")
