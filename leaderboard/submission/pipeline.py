"""validate_submission(): from a folder or archive to a checked, evaluable entry.

A condensed set is read and checked by the rules of its original's data kind
(`TRAIN_SET_KINDS`, keyed by `harness.tracks.dataset_kind`): the content track's tables
(`condensed.py`, `checks.py`) or the sequential track's sequences (`sequential.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.data import load_dataset
from harness.dataset import Dataset
from harness.errors import CondbenchError, ConfigError
from harness.registry import Registry
from harness.tracks import dataset_kind
from leaderboard.submission.archive import is_archive, unpack_archive
from leaderboard.submission.checks import check_condensed
from leaderboard.submission.condensed import read_condensed
from leaderboard.submission.condenser_module import CondenserModule, check_condenser_module
from leaderboard.submission.limits import Limits
from leaderboard.submission.manifest import MANIFEST_NAMES, SubmissionManifest, read_manifest
from leaderboard.submission.rejection import SubmissionRejected
from leaderboard.submission.scan import scan_entry
from leaderboard.submission.sequential import check_sequential_set, sequential_summary

OriginalLoader = Callable[[str], Dataset]


@dataclass(frozen=True)
class TrainSetKind:
    """How a submitted train set for an original of one data kind is read and checked
    (``check(folder, label, original, budget=, method=)`` -> the dataset to evaluate), and
    what `ValidatedSubmission.summary` reports of it."""

    check: Callable[..., Dataset]
    summary: Callable[[Dataset], dict]


def _check_content_set(
    folder: Path, label: str, original: Dataset, *, budget: str, method: str
) -> Dataset:
    return check_condensed(read_condensed(folder, label), original, budget=budget, method=method)


def _content_summary(condensed: Dataset) -> dict:
    train = condensed.split("train")
    return {"train_users": int(train["user_id"].nunique()), "train_rows": len(train)}


TRAIN_SET_KINDS: Registry[TrainSetKind] = Registry("data kind of a submitted train set")
TRAIN_SET_KINDS.register("content", TrainSetKind(_check_content_set, _content_summary))
TRAIN_SET_KINDS.register("sequential", TrainSetKind(check_sequential_set, sequential_summary))


def train_set_kind(dataset: Dataset) -> TrainSetKind:
    """The rules for `dataset`'s kind; a kind without submission rules is refused."""
    try:
        return TRAIN_SET_KINDS.get(dataset_kind(dataset))
    except ConfigError as exc:
        raise SubmissionRejected(f"dataset {dataset.name!r}: {exc}") from None


@dataclass(frozen=True)
class ValidatedSubmission:
    manifest: SubmissionManifest
    files: list[Path]  # relative to the entry root
    condensed: Dataset | None  # the set to evaluate (condensed-set entries)
    condenser: CondenserModule | None  # condenser-module entries (source kept in memory)
    entry_sha256: str = ""  # the entry's content hash (`entry_sha256`): named in its records

    @property
    def kind(self) -> str:
        return "condensed_set" if self.condensed is not None else "condenser_module"

    def summary(self) -> dict:
        out = {
            "status": "valid",
            "kind": self.kind,
            "method": self.manifest.method,
            "version": self.manifest.version,
            "dataset": self.manifest.dataset,
            "budget": self.manifest.budget,
            "files": [f.as_posix() for f in self.files],
            "entry_sha256": self.entry_sha256,
        }
        if self.condensed is not None:
            out.update(train_set_kind(self.condensed).summary(self.condensed))
        if self.condenser is not None:
            out["condenser_class"] = self.condenser.class_name
        return out


def load_original(name: str) -> Dataset:
    """The original dataset through the data layer (mirror and cache as configured)."""
    try:
        return load_dataset(name)
    except CondbenchError as exc:
        raise SubmissionRejected(f"cannot load original dataset {name!r}: {exc}") from None
    except KeyError:
        raise SubmissionRejected(f"unknown dataset {name!r}") from None


def _entry_root(folder: Path) -> Path:
    """An archive may wrap the entry in one top-level folder."""
    children = [p for p in folder.iterdir()]
    if (
        len(children) == 1
        and children[0].is_dir()
        and not any((folder / n).exists() for n in MANIFEST_NAMES)
    ):
        return children[0]
    return folder


def entry_sha256(root: Path, files: list[Path]) -> str:
    """sha256 over the entry's files in path order: each one's relative path, size and
    sha256. The same files give the same hash whether sent as a folder or an archive."""
    digest = hashlib.sha256()
    for relative in sorted(files, key=lambda p: p.as_posix()):
        content = hashlib.sha256()
        with (root / relative).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                content.update(chunk)
        size = (root / relative).stat().st_size
        digest.update(f"{relative.as_posix()}\0{size}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def validate_entry_root(
    root: Path, *, limits: Limits | None = None, load_original_dataset: OriginalLoader | None = None
) -> ValidatedSubmission:
    """Check an unpacked entry folder (`opened_entry` gives one from a folder or archive)."""
    limits = limits or Limits()
    load = load_original_dataset or load_original
    files = scan_entry(root, limits)
    manifest = read_manifest(root)
    digest = entry_sha256(root, files)
    if manifest.condenser_module is not None:
        module = check_condenser_module(
            root / manifest.condenser_module, manifest.condenser_module, manifest.condenser_class
        )
        return ValidatedSubmission(manifest, files, None, module, digest)
    original = load(manifest.dataset)
    condensed = train_set_kind(original).check(
        root / manifest.condensed_set,
        manifest.condensed_set,
        original,
        budget=manifest.budget,
        method=manifest.method,
    )
    return ValidatedSubmission(manifest, files, condensed, None, digest)


@contextlib.contextmanager
def opened_entry(entry: str | Path, limits: Limits | None = None) -> Iterator[Path]:
    """The entry's root folder: the folder itself, or an archive unpacked (safely) into a
    temporary folder that is removed on the way out."""
    limits = limits or Limits()
    path = Path(entry)
    if path.is_symlink():
        raise SubmissionRejected("the entry itself is a link", file=str(path))
    if path.is_dir():
        yield path
        return
    if is_archive(path):
        if path.stat().st_size > limits.max_total_bytes:
            raise SubmissionRejected(
                f"archive is over the total size limit of {limits.max_total_bytes} bytes",
                file=str(path),
            )
        with tempfile.TemporaryDirectory(prefix="condbench-submission-") as tmp:
            yield _entry_root(unpack_archive(path, Path(tmp) / "entry", limits))
        return
    if path.exists():
        raise SubmissionRejected(
            "expected a folder or a .zip / .tar.gz / .tgz / .tar archive", file=str(path)
        )
    raise SubmissionRejected("entry not found", file=str(path))


def validate_submission(
    entry: str | Path,
    *,
    limits: Limits | None = None,
    load_original_dataset: OriginalLoader | None = None,
) -> ValidatedSubmission:
    """Check a submission folder or archive; raise `SubmissionRejected` with the first problem.

    `load_original_dataset(name)` gives the original dataset (default: the data layer).
    """
    with opened_entry(entry, limits) as root:
        return validate_entry_root(
            root, limits=limits, load_original_dataset=load_original_dataset
        )
