"""Unpack a submitted .zip / .tar.gz / .tgz / .tar without trusting anything in it.

Every member is checked before a byte is written: no absolute paths, no ``..`` parts, no
symbolic or hard links, no devices, nothing over the size limits (checked against the
header and again while copying, so a lying header gains nothing). Members are written one by
one below the target folder; `extractall` is never used.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from leaderboard.submission.limits import Limits
from leaderboard.submission.rejection import SubmissionRejected

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Member:
    name: str
    is_dir: bool
    size: int


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def safe_member_path(name: str) -> PurePosixPath:
    """The member's relative path, or a rejection naming why it is unsafe."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise SubmissionRejected("absolute paths are not accepted in an archive", file=name)
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if ".." in parts:
        raise SubmissionRejected("'..' in a member path is not accepted in an archive", file=name)
    if not parts:
        raise SubmissionRejected("empty member name in archive", file=name)
    return PurePosixPath(*parts)


def _zip_members(archive: zipfile.ZipFile) -> Iterator[tuple[Member, Callable[[], BinaryIO]]]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise SubmissionRejected("links are not accepted in an archive", file=info.filename)
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
            raise SubmissionRejected(
                "only regular files and folders are accepted in an archive", file=info.filename
            )
        member = Member(info.filename, info.is_dir(), info.file_size)
        yield member, (lambda info=info: archive.open(info))


def _tar_members(archive: tarfile.TarFile) -> Iterator[tuple[Member, Callable[[], BinaryIO]]]:
    for info in archive:
        if info.issym() or info.islnk():
            raise SubmissionRejected("links are not accepted in an archive", file=info.name)
        if not (info.isfile() or info.isdir()):
            raise SubmissionRejected(
                "only regular files and folders are accepted in an archive", file=info.name
            )
        member = Member(info.name, info.isdir(), info.size)
        yield member, (lambda info=info: archive.extractfile(info))


def _copy_capped(source: BinaryIO, target: Path, name: str, limits: Limits) -> int:
    written = 0
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limits.max_file_bytes:
                raise SubmissionRejected(
                    f"file is over the limit of {limits.max_file_bytes} bytes", file=name
                )
            out.write(chunk)
    return written


def unpack_archive(path: Path, target: Path, limits: Limits) -> Path:
    """Unpack `path` into the empty folder `target`; return `target`."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                _unpack_members(_zip_members(archive), target, limits)
        else:
            with tarfile.open(path, "r:*") as archive:
                _unpack_members(_tar_members(archive), target, limits)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileExistsError):
            raise SubmissionRejected("archive holds the same file twice", file=str(path)) from None
        raise SubmissionRejected(f"unreadable archive: {exc}", file=str(path)) from None
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise SubmissionRejected(f"encrypted archive member: {exc}", file=str(path)) from None
    except NotImplementedError as exc:  # zipfile: an unsupported compression method
        raise SubmissionRejected(f"unreadable archive member: {exc}", file=str(path)) from None
    return target


def _listed_within_limits(
    members: Iterator[tuple[Member, Callable[[], BinaryIO]]], limits: Limits
) -> list[tuple[Member, Callable[[], BinaryIO]]]:
    """Every member, after the count and the declared sizes are checked against the limits:
    nothing is written when the headers already say the archive is too large."""
    listed: list[tuple[Member, Callable[[], BinaryIO]]] = []
    declared = 0
    for member, open_member in members:
        listed.append((member, open_member))
        if len(listed) > limits.max_files:
            raise SubmissionRejected(f"archive has more than {limits.max_files} members")
        declared += 0 if member.is_dir else member.size
        if declared > limits.max_total_bytes:
            raise SubmissionRejected(
                f"archive declares over the total size limit of {limits.max_total_bytes} bytes"
            )
    return listed


def _refuse_file_folder_clash(target: Path, relative: PurePosixPath, member: Member) -> None:
    """A name that is a file in one member and a folder in another, named as such."""
    for depth in range(1, len(relative.parts) + 1):
        path = target.joinpath(*relative.parts[:depth])
        last = depth == len(relative.parts)
        if path.is_file() and (not last or member.is_dir):
            name = "/".join(relative.parts[:depth])
            raise SubmissionRejected(
                f"archive holds {name!r} both as a file and as a folder", file=member.name
            )
        if last and path.is_dir() and not member.is_dir:
            raise SubmissionRejected(
                f"archive holds {member.name!r} both as a file and as a folder", file=member.name
            )


def _unpack_members(
    members: Iterator[tuple[Member, Callable[[], BinaryIO]]], target: Path, limits: Limits
) -> None:
    listed = _listed_within_limits(members, limits)
    total = 0
    for member, open_member in listed:
        relative = safe_member_path(member.name)
        destination = target.joinpath(*relative.parts)
        _refuse_file_folder_clash(target, relative, member)
        if member.is_dir:
            destination.mkdir(parents=True, exist_ok=True)
            continue
        if member.size > limits.max_file_bytes:
            raise SubmissionRejected(
                f"file is {member.size} bytes, over the limit of {limits.max_file_bytes}",
                file=member.name,
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as source:
            total += _copy_capped(source, destination, member.name, limits)
        if total > limits.max_total_bytes:
            raise SubmissionRejected(
                f"archive is over the total size limit of {limits.max_total_bytes} bytes"
            )
