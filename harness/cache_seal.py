"""Cache entries that cannot lie: each entry's files are sealed when written, checked when read.

A cache entry is a folder (a converted dataset, a condensed set) or a single file (embeddings,
a trained expert, item vectors). Its seal lists every file's size and sha256 (and the inputs
the entry was made from, where the caller names them):

- a folder's seal is ``<folder>/condbench-seal.json``, written into the temporary folder last,
  so it appears with the entry in one rename (`harness.paths.atomic_dir`);
- a file's seal is ``<file>.seal.json`` beside it, written atomically after the file.

`read_sealed` checks the seal before handing the entry to its reader. A missing seal (an
entry written before condbench sealed its caches, or a crash between a file and its seal),
a file that differs from its seal (altered, truncated, added, missing) or a reader that
fails is one line on stderr and a cache miss: the caller builds the entry again and seals
it. Hashing costs about 1 ms per MB (a Goodreads conversion, 2.8 MB: 2-3 ms).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import DataError
from harness.paths import atomic_write_bytes, atomic_write_text, exclusive_lock

SEAL_VERSION = 1
FOLDER_SEAL = "condbench-seal.json"
FILE_SEAL_SUFFIX = ".seal.json"
CHUNK = 1 << 20
OLD_ENTRY = "no seal (written by an older condbench, or cut short)"

T = TypeVar("T")


# ---- writing -------------------------------------------------------------------------------


def seal(entry: str | Path, inputs: dict[str, Any] | None = None) -> Path:
    """Seal the cache entry `entry` (a folder or a file) as it is now; returns the seal's path.

    Call it last, after every file of the entry is written. `inputs` (JSON values) are
    recorded and must match on read (`read_sealed(..., inputs=...)`)."""
    entry = Path(entry)
    content = {
        "seal_version": SEAL_VERSION,
        "files": {name: file_digest(path) for name, path in entry_files(entry)},
        "inputs": inputs or {},
    }
    path = seal_path(entry)
    atomic_write_text(path, json.dumps(content, indent=1, sort_keys=True))
    return path


def seal_path(entry: Path) -> Path:
    if entry.is_dir():
        return entry / FOLDER_SEAL
    return entry.with_name(entry.name + FILE_SEAL_SUFFIX)


def entry_files(entry: Path) -> list[tuple[str, Path]]:
    """(name relative to the entry, path) of every file of `entry`, its seal left out."""
    if not entry.is_dir():
        return [(entry.name, entry)]
    files = (p for p in sorted(entry.rglob("*")) if p.is_file() and p.name != FOLDER_SEAL)
    return [(p.relative_to(entry).as_posix(), p) for p in files]


def file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
            size += len(block)
    return {"size": size, "sha256": digest.hexdigest()}


# ---- checking ------------------------------------------------------------------------------


def entry_problem(entry: str | Path, inputs: dict[str, Any] | None = None) -> str | None:
    """What is wrong with the present cache entry `entry` against its seal, or None."""
    entry = Path(entry)
    recorded = _read_seal(seal_path(entry))
    if isinstance(recorded, str):
        return recorded
    if recorded.get("inputs", {}) != (inputs or {}):
        changed = sorted(set(recorded.get("inputs", {})) | set(inputs or {}))
        return f"made from other inputs ({', '.join(changed)})"
    return _files_problem(entry, recorded.get("files", {}))


def _read_seal(path: Path) -> dict[str, Any] | str:
    if not path.is_file():
        return OLD_ENTRY
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"unreadable seal {path.name}"
    if not isinstance(recorded, dict) or recorded.get("seal_version") != SEAL_VERSION:
        return f"seal {path.name} of another version"
    return recorded


def _files_problem(entry: Path, sealed: dict[str, Any]) -> str | None:
    present = dict(entry_files(entry))
    extra = sorted(set(present) - set(sealed))
    if extra:
        return f"{extra[0]} is not in its seal"
    for name, want in sorted(sealed.items()):
        if name not in present:
            return f"{name} is missing"
        have = file_digest(present[name])
        if have["size"] != want.get("size"):
            return (
                f"{name} is {have['size']} bytes, sealed {want.get('size')} (truncated or altered)"
            )
        if have["sha256"] != want.get("sha256"):
            return f"{name} differs from its seal (sha256 {have['sha256'][:12]}…, sealed {str(want.get('sha256'))[:12]}…)"
    return None


# ---- reading -------------------------------------------------------------------------------


def read_sealed(
    entry: str | Path,
    read: Callable[[Path], T],
    *,
    inputs: dict[str, Any] | None = None,
    what: str = "cache entry",
) -> T | None:
    """`read(entry)` when the entry is there, matches its seal and reads; else None (a miss).

    An entry that is there but fails its seal, or that `read` refuses (a `DataError`), is
    one line on stderr saying it is rebuilt: the caller builds it again and `seal`s it."""
    entry = Path(entry)
    if not entry.exists():
        return None
    problem = entry_problem(entry, inputs)
    if problem is None:
        try:
            return read(entry)
        except DataError as exc:
            problem = f"unreadable ({exc})"
    note_rebuild(entry, problem, what)
    return None


def cached_file(
    path: Path, read: Callable[[Path], T], build: Callable[[], T],
    to_bytes: Callable[[T], bytes], what: str = "cache entry",
) -> T:  # fmt: skip
    """The single-file entry at `path`, read and checked (`read_sealed`), else built, written
    atomically and sealed. Processes that need the same entry take turns (``<path>.lock``,
    `harness.paths.exclusive_lock`): one builds it, the others read its file."""
    with exclusive_lock(path.with_suffix(".lock")):
        stored = read_sealed(path, read, what=what)
        if stored is not None:
            return stored
        value = build()
        atomic_write_bytes(path, to_bytes(value))
        seal(path)
    return value


def note_rebuild(entry: Path, problem: str, what: str = "cache entry") -> None:
    print(f"cache: {what} {entry}: {problem}; rebuilding it", file=sys.stderr)


def read_json(path: Path) -> Any:
    """A JSON cache file's value (a reader for `read_sealed`)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not JSON ({exc})", file=str(path)) from None
