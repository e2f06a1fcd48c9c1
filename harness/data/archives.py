"""Read members of downloaded zip archives (and wheels) in memory, refusing unsafe entries.

Nothing is extracted to disk; still, an archive holding an absolute path, a '..' component,
a drive letter or a link is refused as a whole, since such an archive is not what the
publisher ships.

A member is read (whole, or streamed in chunks with `stream_member`) only when its declared
size is at most `MAX_MEMBER_BYTES` and at most `MAX_COMPRESSION_RATIO` times its compressed
size (text compresses 3-10 times; a "zip bomb" thousands of times), and it is streamed in
chunks, refused as soon as it yields more than it declared: a small archive that would unpack to gigabytes is refused before its bytes are
in memory (MIND publishes no hash, so this is its only guard). An encrypted member or an
unsupported compression method is one `DataError`, as is a damaged one.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from harness.errors import DataError

MAX_MEMBER_BYTES = 8 * 1024**3  # MIND-large's behaviors.tsv is about 1.4 GB
MAX_COMPRESSION_RATIO = 100
_CHUNK = 1 << 20


def check_member_name(name: str, archive: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise DataError(f"unsafe member path {name!r} in archive", file=archive)


def open_zip(path: str | Path) -> zipfile.ZipFile:
    """Open `path` as a zip after checking every member's name and type."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"not a readable zip archive: {exc}", file=str(path)) from None
    for info in archive.infolist():
        check_member_name(info.filename, str(path))
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            archive.close()
            raise DataError(f"link member {info.filename!r} in archive", file=str(path))
    return archive


def read_member(archive: zipfile.ZipFile, suffix: str) -> tuple[str, bytes]:
    """The one member whose path ends with `suffix`: (its name, its bytes)."""
    name, chunks = stream_member(archive, suffix)
    return name, b"".join(chunks)


def stream_member(archive: zipfile.ZipFile, suffix: str) -> tuple[str, Iterator[bytes]]:
    """The one member whose path ends with `suffix`: (its name, its bytes in chunks of
    about 1 MiB), checked as `read_member` checks it; a problem found while reading is
    raised by the iterator."""
    source = str(archive.filename)
    matches = [n for n in archive.namelist() if n == suffix or n.endswith("/" + suffix)]
    if len(matches) != 1:
        found = "no member" if not matches else f"{len(matches)} members"
        raise DataError(f"{found} named {suffix!r} in archive", file=source)
    info = archive.getinfo(matches[0])
    check_declared_size(info, source)
    return matches[0], _chunks_capped(archive, info, source)


def check_declared_size(info: zipfile.ZipInfo, source: str) -> None:
    """Refuse a member declaring more than `MAX_MEMBER_BYTES`, or more than
    `MAX_COMPRESSION_RATIO` times its compressed bytes, before reading any of it."""
    if info.file_size > MAX_MEMBER_BYTES:
        raise DataError(
            f"member {info.filename!r} declares {info.file_size} bytes, over the limit of "
            f"{MAX_MEMBER_BYTES}",
            file=source,
        )
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + _CHUNK:
        raise DataError(
            f"member {info.filename!r} would unpack {info.file_size} bytes from "
            f"{info.compress_size}: over {MAX_COMPRESSION_RATIO} times (a zip bomb?)",
            file=source,
        )


def _chunks_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Iterator[bytes]:
    """The member's bytes, streamed; refused once it yields more than it declared."""
    name = info.filename
    try:
        yield from _read_capped(archive, info, source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"damaged member {name!r}: {exc}", file=source) from None
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise DataError(f"member {name!r} cannot be read: {exc}", file=source) from None
    except NotImplementedError as exc:  # zipfile: "That compression method is not supported"
        raise DataError(f"member {name!r}: {exc}", file=source) from None


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Iterator[bytes]:
    read = 0
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            read += len(chunk)
            if read > info.file_size:
                raise DataError(
                    f"member {info.filename!r} yields more than the {info.file_size} bytes "
                    "it declares",
                    file=source,
                )
            yield chunk
