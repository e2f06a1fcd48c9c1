"""Scan an unpacked entry folder: no links, no pickles, nothing over the size limits.

Links: symbolic links, and hard links (a file whose link count is above 1: its bytes are
shared with a file outside the entry, or inside it under two names).

Pickles are refused by name (.pkl, .pickle, .npy, .npz and other pickle-based formats) and
by content: the pickle protocol 2+ header, the NumPy .npy header, and a protocol 0 or 1
pickle (text-like, no header; `is_headerless_pickle`), because condbench never unpickles
submitted files and will not store something that invites it.
"""

from __future__ import annotations

import os
import pickletools
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from leaderboard.submission.limits import Limits
from leaderboard.submission.rejection import SubmissionRejected

PICKLE_SUFFIXES = (".pkl", ".pickle", ".npy", ".npz", ".joblib", ".dill", ".pt", ".pth", ".ckpt")
_PICKLE_HEADERS = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_NUMPY_HEADER = b"\x93NUMPY"


# a protocol 0/1 pickle has no header: a file's bytes are read as pickle opcodes by
# `pickletools.dis` (it checks every opcode, argument, the stack and the memo; nothing is
# unpickled). A file is a pickle when they form a whole pickle (up to STOP), or when the
# first `PICKLE_SNIFF_BYTES` of a longer file are the valid start of one (an argument that
# starts inside them is read whole; an argument longer than the rest of the file is no
# pickle). Text, JSON, YAML, Python and Parquet fail within their first bytes (an unknown
# opcode, an opcode with too little on the stack, an argument that does not parse).
PICKLE_SNIFF_BYTES = 64 * 1024
HEADERLESS_PROTOCOL = 1  # the newest protocol pickle writes without a PROTO header


class _WindowEnd(Exception):
    """The opcodes ran valid past the sniffed start of a longer file."""


class _Sniffed:
    """A file as `pickletools` reads it: a read that starts past `window` (the file going on)
    raises `_WindowEnd`; a read asking for more than the file holds gets nothing."""

    def __init__(self, handle: BinaryIO, size: int, window: int):
        self.handle, self.size, self.window = handle, size, window

    def tell(self) -> int:
        return self.handle.tell()

    def _start(self) -> None:
        if self.window <= self.tell() < self.size:
            raise _WindowEnd

    def read(self, wanted: int = -1) -> bytes:
        self._start()
        if wanted < 0 or wanted > self.size - self.tell():
            return b""  # the reader sees too few bytes: no pickle
        return self.handle.read(wanted)

    def readline(self) -> bytes:
        self._start()
        return self.handle.readline()


class _Discard:
    def write(self, text: str) -> int:
        return len(text)


def _old_protocols_only(stream: _Sniffed) -> None:
    """Refuse an opcode of protocol 2 or later: pickle writes those only after its PROTO
    header (caught by `looks_like_pickle`); a text file often starts like one (``C``)."""
    for opcode, _, _ in pickletools.genops(stream):
        if opcode.proto > HEADERLESS_PROTOCOL:
            raise ValueError(f"opcode {opcode.name} of protocol {opcode.proto}")


def _disassembles(stream: _Sniffed) -> None:
    pickletools.dis(stream, out=_Discard())


def _sniff(handle: BinaryIO, size: int, check: Callable[[_Sniffed], None]) -> bool:
    """True when `check` finds nothing wrong up to STOP or past the sniffed start."""
    handle.seek(0)
    try:
        check(_Sniffed(handle, size, PICKLE_SNIFF_BYTES))
    except _WindowEnd:
        return True
    except Exception:  # any other complaint: these bytes are no pickle
        return False
    return True


def is_headerless_pickle(handle: BinaryIO, size: int) -> bool:
    """True when the file open as `handle` (`size` bytes) is a protocol 0 or 1 pickle, or
    starts like one for `PICKLE_SNIFF_BYTES`."""
    return (
        size > 0
        and _sniff(handle, size, _old_protocols_only)
        and _sniff(handle, size, _disassembles)
    )


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
            status = path.stat()
            if status.st_nlink > 1:
                raise SubmissionRejected(
                    f"hard links are not accepted in a submission ({status.st_nlink} names "
                    "share this file's bytes); copy the file",
                    file=relative,
                )
            size = status.st_size
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
                pickled = looks_like_pickle(name, head) or is_headerless_pickle(handle, size)
            if pickled:
                raise SubmissionRejected(
                    "pickle files are not accepted (use Parquet or TSV)", file=relative
                )
    return sorted(files)
