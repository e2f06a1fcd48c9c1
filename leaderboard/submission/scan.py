"""Scan an unpacked entry folder: no links, no pickles, nothing over the size limits.

Pickles are refused by name (.pkl, .pickle, .npy, .npz and other pickle-based formats) and
by content (the pickle protocol 2+ header, the NumPy .npy header), because condbench never
unpickles submitted files and will not store something that invites it.
"""

from __future__ import annotations

import os
from pathlib import Path

from leaderboard.submission.limits import Limits
from leaderboard.submission.rejection import SubmissionRejected

PICKLE_SUFFIXES = (".pkl", ".pickle", ".npy", ".npz", ".joblib", ".dill", ".pt", ".pth", ".ckpt")
_PICKLE_HEADERS = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_NUMPY_HEADER = b"\x93NUMPY"


def looks_like_pickle(name: str, head: bytes) -> bool:
    return (
        name.lower().endswith(PICKLE_SUFFIXES)
        or head.startswith(_PICKLE_HEADERS)
        or head.startswith(_NUMPY_HEADER)
    )


def scan_entry(root: Path, limits: Limits) -> list[Path]:
    """Check every file below `root`; return them (relative paths, sorted)."""
    files: list[Path] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                raise SubmissionRejected("links are not accepted in a submission", file=relative)
            if name in dirnames:
                continue
            if not path.is_file():
                raise SubmissionRejected(
                    "only regular files and folders are accepted", file=relative
                )
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                raise SubmissionRejected(
                    f"file is {size} bytes, over the limit of {limits.max_file_bytes}",
                    file=relative,
                )
            total += size
            if total > limits.max_total_bytes:
                raise SubmissionRejected(
                    f"submission is over the total size limit of {limits.max_total_bytes} bytes"
                )
            files.append(Path(relative))
            if len(files) > limits.max_files:
                raise SubmissionRejected(f"submission has more than {limits.max_files} files")
            with path.open("rb") as handle:
                head = handle.read(8)
            if looks_like_pickle(name, head):
                raise SubmissionRejected(
                    "pickle files are not accepted (use Parquet or TSV)", file=relative
                )
    return sorted(files)
