"""ml-100k-seq: MovieLens-100K as user sequences (the sequential track's data set).

The same source files and readers as `harness.data.ml100k` (GroupLens zip; offline
fallback the ml-100k files of the PyPI wheel ``recbole==1.2.1``), checked the same way,
then `harness.data.sequential_protocol` (implicit, one 5-core pass, order by (timestamp,
source row), leave-one-out, 100 seeded test negatives per user). "Source row" is the
rating's 0-based position in ``u.data`` / ``ml-100k.inter`` (the wheel's file lists the
ratings in u.data's order as far as checked: its first lines are u.data's; the result's
counts are checked either way).

Item text: "title (year) | genres", genres in the file's order joined with ", " (the
"(year)" is left out for the one item without a year). The result is checked against
`EXPECTED` (design/sequential-track.md); any other count is a `DataError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.ml100k import ML_100K as RATINGS_SOURCE
from harness.data.ml100k import RawMovieLens, read_checked
from harness.data.sequential_protocol import (
    CUTOFFS,
    VERSION,
    SequentialEvents,
    build_sequential,
)
from harness.data.source import PathLike
from harness.dataset import Dataset
from harness.errors import DataError

ITEM_TEXT = "title (year) | genres (genres joined with ', ')"
EXPECTED = {
    "interactions": 99_287,
    "users": 943,
    "items": 1_349,
    "train": 97_401,
    "dev": 943,
    "test": 943,
}


def item_text(title: str, year: str, genres: list[str]) -> str:
    """ "Toy Story (1995) | Animation, Children's, Comedy"."""
    head = f"{title} ({year})" if year else title
    return f"{head} | {', '.join(genres)}"


def sequential_events(raw: RawMovieLens, source_file: Path) -> SequentialEvents:
    ratings = raw.ratings
    events = pd.DataFrame(
        {
            "user": ratings["user"].to_numpy(),
            "item": ratings["item"].to_numpy(),
            "timestamp": ratings["timestamp"].to_numpy(),
            "row": range(len(ratings)),
        }
    )
    items = pd.DataFrame(
        {
            "item": raw.items["item"].to_numpy(),
            "text": [
                item_text(t, y, g)
                for t, y, g in zip(
                    raw.items["title"], raw.items["year"], raw.items["genres"], strict=True
                )
            ],
        }
    )
    return SequentialEvents(
        events=events,
        items=items,
        source=raw.origin,
        sha256=raw.sha256,
        item_text=ITEM_TEXT,
        files={source_file.name: raw.sha256},
        source_counts={"item_records": len(raw.items)},
    )


# Half the interactions tie on timestamp, so the order (and the splits) rest on the source
# rows: counts cannot tell a reordered source apart. The digest of the built interaction table
# (splits, users, items, labels, groups, in order; the stored negatives included) pins version
# 1-ts-row; a source whose rows come in another order is another version and is refused.
INTERACTIONS_SHA256 = "5a29addbe2ecbc44dec1f83fad799bd74f7301cd056c05e9928f778cc3748c21"


def interactions_digest(dataset: Dataset) -> str:
    """sha256 of the interaction table in order (split names, then the int columns)."""
    table = dataset.interactions
    digest = hashlib.sha256("|".join(table["split"]).encode())
    for column in ("user_id", "item_id", "label", "group_id"):
        digest.update(np.ascontiguousarray(table[column].to_numpy(np.int64)).tobytes())
    return digest.hexdigest()


def check_result(dataset: Dataset, source: str) -> None:
    found = dataset.meta["counts"]
    for key, expected in EXPECTED.items():
        if found[key] != expected:
            raise DataError(
                f"{found[key]} {key} after the sequential protocol, expected {expected}",
                file=source,
            )
    digest = interactions_digest(dataset)
    if digest != INTERACTIONS_SHA256:
        raise DataError(
            f"the built interactions (sha256 {digest[:12]}…) are not version {VERSION}'s "
            f"({INTERACTIONS_SHA256[:12]}…): the source's rows come in another order, and ties "
            "on timestamp break by source row",
            file=source,
        )


@dataclass(frozen=True)
class MovieLens100KSequences:
    name: str = "ml-100k-seq"
    description: str = (
        "MovieLens-100K as user sequences: 5-core, leave-one-out, full ranking (sequential track)"
    )
    version: str = VERSION
    variants: tuple[str, ...] = ("original",)
    cutoffs: tuple[int, ...] = CUTOFFS

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        return RATINGS_SOURCE.fetch(mirror=mirror, cache=cache)

    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        if variant not in self.variants:
            raise DataError(f"unknown variant {variant!r}; known: original", file=self.name)
        (path,) = self.fetch(mirror=mirror, cache=cache)
        dataset = build_sequential(sequential_events(read_checked(path), path), self.name)
        check_result(dataset, str(path))
        return dataset


ML_100K_SEQ = MovieLens100KSequences()
