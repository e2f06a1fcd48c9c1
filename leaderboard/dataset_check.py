"""Records made from another dataset than their (name, version) stands for.

A record names the dataset it was trained and evaluated on by its fingerprint
(``dataset.sha256``, `Dataset.fingerprint`). For each (name, version) the reference is the
pinned fingerprint (`harness.data.fingerprints`) where there is one, else the fingerprint
most of its records name (ties: the smallest). Every record naming another fingerprint is
flagged; records without a fingerprint (none is committed) are not compared.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.data.fingerprints import pinned_fingerprint
from leaderboard.record import ResultRecord

PINNED = "pinned"
MAJORITY = "most records'"
SHORT = 12


@dataclass(frozen=True)
class DatasetFlag:
    name: str
    version: str
    reference: str  # the fingerprint the records should name
    basis: str  # PINNED or MAJORITY
    count: int  # records naming another
    example: str  # one of them (its path)

    def line(self) -> str:
        return (
            f"warning: {self.count} record(s) of {self.name} {self.version} were made from "
            f"another dataset than the {self.basis} (sha256 {self.reference[:SHORT]}…), "
            f"e.g. {self.example}"
        )

    def note(self) -> str:
        """The site's note on the dataset's sections."""
        return (
            f"{self.count} record(s) of {self.name} {self.version} were made from another "
            f"dataset than the {self.basis} (sha256 {self.reference[:SHORT]}…): their "
            "entries are not comparable with the others."
        )

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def dataset_flags(records: list[tuple[ResultRecord, Path | str | None]]) -> list[DatasetFlag]:
    """One flag per (name, version) with records whose fingerprint differs from the reference."""
    by_version: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for record, path in records:
        if record.dataset.sha256:
            key = (record.dataset.name, record.dataset.version)
            by_version[key].append((record.dataset.sha256, str(path or record.relative_path())))
    return [
        flag
        for (name, version), named in sorted(by_version.items())
        if (flag := _flag(name, version, named)) is not None
    ]


def _flag(name: str, version: str, named: list[tuple[str, str]]) -> DatasetFlag | None:
    reference, basis = _reference(name, version, [sha for sha, _ in named])
    others = sorted(where for sha, where in named if sha != reference)
    if not others:
        return None
    return DatasetFlag(name, version, reference, basis, len(others), others[0])


def _reference(name: str, version: str, fingerprints: list[str]) -> tuple[str, str]:
    pinned = pinned_fingerprint(name, version)
    if pinned is not None:
        return pinned, PINNED
    counts = Counter(fingerprints)
    top = max(counts.values())
    return min(sha for sha, n in counts.items() if n == top), MAJORITY
