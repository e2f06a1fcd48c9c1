"""Goodreads from the UCSD Book Graph dumps (one genre; poetry, the smallest, by default).

Files (gzip JSON lines): ``goodreads_books_<genre>.json.gz`` (``book_id``, ``title``,
``description``, ...) and ``goodreads_interactions_<genre>.json.gz`` (``user_id``,
``book_id``, ``rating`` 0-5 with 0 = not rated, ``date_added`` like
``Mon Aug 01 13:41:57 -0700 2011``, ...). Mirror: ``<mirror>/goodreads/<file>``. The dumps
have no published checksum: their sha256 is recorded in the manifest.

Conversion (ours): rated interactions only (rating 1-5), users with at least
`MIN_RATINGS` of them, time = ``date_added``; then `harness.data.protocol` (labels, time
split, histories). Items are the books those ratings name, text fields ``title`` and
``description`` (the paper's name and description), ``source_id`` keeps the book id. Every
line is validated (JSON, keys, UTF-8, unknown book ids, truncated gzip) with the file and line
in the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.fetch import RemoteFile, fetch_file, sha256_of
from harness.data.protocol import PROTOCOL_SUMMARY, histories_and_interactions
from harness.data.source import PathLike
from harness.data.textfiles import iter_json_lines_gz
from harness.dataset import Dataset, normalise_interactions
from harness.errors import DataError
from harness.progress import progress
from harness.text import get_tokenizer

UCSD_URL = "https://mcauleylab.ucsd.edu/public_datasets/gdrive/goodreads/byGenre/{file}"
DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"
MIN_RATINGS = 10


def read_books(path: Path, wanted: set[str]) -> pd.DataFrame:
    rows = []
    for _, record in progress(
        iter_json_lines_gz(path, ("book_id", "title")), desc="books", unit="lines"
    ):
        book = str(record["book_id"])
        if book in wanted:
            rows.append((book, str(record["title"] or ""), str(record.get("description") or "")))
    return pd.DataFrame(rows, columns=["book_id", "title", "description"]).drop_duplicates(
        "book_id"
    )


def read_ratings(path: Path) -> pd.DataFrame:
    """Rated interactions: user, book, rating, timestamp (seconds), line."""
    source = str(path)
    rows = []
    for number, record in progress(
        iter_json_lines_gz(path, ("user_id", "book_id", "rating", "date_added")),
        desc="interactions",
        unit="lines",
    ):
        rating = record["rating"]
        if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 5:
            raise DataError(f"rating {rating!r} outside 0..5", file=source, where=f"line {number}")
        if rating:
            rows.append(
                (
                    str(record["user_id"]),
                    str(record["book_id"]),
                    rating,
                    record["date_added"],
                    number,
                )
            )
    frame = pd.DataFrame(rows, columns=["user", "book", "rating", "date", "line"])
    parsed = pd.to_datetime(frame["date"], format=DATE_FORMAT, errors="coerce", utc=True)
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"bad date_added {frame['date'].iloc[row]!r}",
            file=source,
            where=f"line {frame['line'].iloc[row]}",
        )
    frame["timestamp"] = parsed.astype("int64") // 10**9
    return frame.drop(columns="date")


def goodreads_dataset(
    books_path: Path, interactions_path: Path, name: str, min_ratings: int = MIN_RATINGS
) -> Dataset:
    ratings = read_ratings(interactions_path)
    counts = ratings.groupby("user")["book"].transform("size")
    ratings = ratings[counts >= min_ratings].reset_index(drop=True)
    if ratings.empty:
        raise DataError(f"no user has {min_ratings} or more ratings", file=str(interactions_path))
    books = read_books(books_path, set(ratings["book"].tolist()))
    known = set(books["book_id"].tolist())
    unknown = ~ratings["book"].isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(
            f"unknown book id {ratings['book'].iloc[row]!r} (not in {books_path.name})",
            file=str(interactions_path),
            where=f"line {ratings['line'].iloc[row]}",
        )
    books = books.sort_values("book_id", kind="stable").reset_index(drop=True)
    item_of = {book: index for index, book in enumerate(books["book_id"].tolist())}
    user_of = {user: index for index, user in enumerate(dict.fromkeys(ratings["user"].tolist()))}
    histories, interactions = histories_and_interactions(
        pd.DataFrame(
            {
                "user_id": ratings["user"].map(user_of),
                "item_id": ratings["book"].map(item_of),
                "rating": ratings["rating"],
                "timestamp": ratings["timestamp"],
            }
        )
    )
    tokenizer = get_tokenizer()
    items = pd.DataFrame({"item_id": np.arange(len(books), dtype=np.int64)})
    items["title"] = tokenizer.encode_many(books["title"].tolist())
    items["description"] = tokenizer.encode_many(books["description"].tolist())
    items["source_id"] = books["book_id"].to_numpy()
    return Dataset(
        name=name,
        items=items,
        text_fields=("title", "description"),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta={
            "name": name,
            "variant": "original",
            "source": "UCSD Book Graph (Goodreads)",
            "sha256": {
                books_path.name: sha256_of(books_path),
                interactions_path.name: sha256_of(interactions_path),
            },
            "protocol": f"rated only; users with >= {min_ratings} ratings; {PROTOCOL_SUMMARY}",
        },
    )


@dataclass(frozen=True)
class GoodreadsUCSD:
    name: str = "goodreads"
    genre: str = "poetry"
    description: str = "Goodreads poetry (UCSD Book Graph dumps), our protocol"
    version: str = "1"
    variants: tuple[str, ...] = ("original",)
    cutoffs: tuple[int, ...] = (1, 5)

    def remote(self, kind: str) -> RemoteFile:
        file = f"goodreads_{kind}_{self.genre}.json.gz"
        return RemoteFile(
            source=self.name,
            path=file,
            url=UCSD_URL.format(file=file),
            mirror_path=f"goodreads/{file}",
            sha256=None,
        )

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        return [
            fetch_file(self.remote(kind), mirror=mirror, cache=cache)
            for kind in ("books", "interactions")
        ]

    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        if variant not in self.variants:
            raise DataError(f"unknown variant {variant!r}; known: original", file=self.name)
        books, interactions = self.fetch(mirror=mirror, cache=cache)
        return goodreads_dataset(books, interactions, self.name)


GOODREADS_UCSD = GoodreadsUCSD()
