"""Read members of downloaded zip archives (and wheels) in memory, refusing unsafe entries.

Nothing is extracted to disk; still, an archive holding an absolute path, a '..' component,
a drive letter or a link is refused as a whole, since such an archive is not what the
publisher ships.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from harness.errors import DataError


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
    source = str(archive.filename)
    matches = [n for n in archive.namelist() if n == suffix or n.endswith("/" + suffix)]
    if len(matches) != 1:
        found = "no member" if not matches else f"{len(matches)} members"
        raise DataError(f"{found} named {suffix!r} in archive", file=source)
    try:
        return matches[0], archive.read(matches[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"damaged member {matches[0]!r}: {exc}", file=source) from None
