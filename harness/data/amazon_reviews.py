"""Amazon review JSON lines a user brings, in the 2018 or the 2023 layout (gzip or plain).

One reviews file and at most one metadata file, told apart by name: the metadata file's
name starts with ``meta_`` (as Amazon names them: ``meta_Video_Games.json.gz``). Each line
is one JSON object; a file is read as gzip when it starts with the gzip magic bytes.

| | reviews: user, item, time | metadata: item, text |
|---|---|---|
| 2018 | ``reviewerID``, ``asin``, ``unixReviewTime`` (s) | ``asin``, ``title``, ``category`` (else ``categories``) |
| 2023 | ``user_id``, ``parent_asin`` (else ``asin``), ``timestamp`` (ms) | ``parent_asin``, ``title``, ``categories`` |

Every review is an interaction (duplicates included); "source row" is the review's 0-based
position among the file's records; times are kept in the file's unit (they only order).
Item text (`ITEM_TEXT`): "title | categories", the categories flattened (2014-style lists of
lists too), repeats dropped, joined with ", "; an empty part is left out. An item's first
metadata record counts. A missing key, a non-integer time, a bad JSON line or non-UTF-8
bytes is one `DataError` naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.data.sequential_protocol import (
    SequentialEvents,
    events_from_files,
    integer_timestamp,
)
from harness.data.textfiles import iter_json_lines_gz, read_json_lines
from harness.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
META_PREFIX = "meta_"
ITEM_TEXT = "title | categories (flattened, repeats dropped, joined with ', ')"


def json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of a JSON-lines file, gzip or plain."""
    try:
        with path.open("rb") as handle:
            gzipped = handle.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if gzipped:
        yield from iter_json_lines_gz(path, ())
    else:
        yield from read_json_lines(path, ())


def _first(record: dict, keys: tuple[str, ...], source: str, number: int) -> str:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise DataError(
                    f"{key} {value!r} is not an id", file=source, where=f"line {number}"
                )
            return str(value)
    raise DataError(
        f"missing key {' or '.join(map(repr, keys))}", file=source, where=f"line {number}"
    )


def _categories(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [c for v in value for c in _categories(v)]
    return []


def item_text(record: dict, category_keys: tuple[str, ...]) -> str:
    title = record.get("title")
    title = title.strip() if isinstance(title, str) else ""
    key = next((k for k in category_keys if record.get(k)), None)
    categories = list(dict.fromkeys(_categories(record.get(key)))) if key else []
    return " | ".join(part for part in (title, ", ".join(categories)) if part)


@dataclass(frozen=True)
class AmazonLayout:
    """One release's key names (see the module's table)."""

    name: str
    description: str
    user_key: str
    item_keys: tuple[str, ...]  # the first present one
    time_key: str
    meta_item_keys: tuple[str, ...]
    category_keys: tuple[str, ...]  # the first non-empty one

    def read_reviews(self, path: Path) -> pd.DataFrame:
        source = str(path)
        rows = []
        for number, record in json_records(path):
            if self.time_key not in record:
                raise DataError(
                    f"missing key {self.time_key!r}", file=source, where=f"line {number}"
                )
            rows.append(
                (
                    _first(record, (self.user_key,), source, number),
                    _first(record, self.item_keys, source, number),
                    integer_timestamp(record[self.time_key], source, f"line {number}"),
                )
            )
        if not rows:
            raise DataError("no reviews", file=source)
        events = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
        events["row"] = range(len(events))
        return events

    def read_meta(self, path: Path) -> pd.DataFrame:
        source = str(path)
        rows = [
            (
                _first(record, self.meta_item_keys, source, number),
                item_text(record, self.category_keys),
            )
            for number, record in json_records(path)
        ]
        return pd.DataFrame(rows, columns=["item", "text"])

    def read(self, paths: Sequence[Path]) -> SequentialEvents:
        paths = [Path(p) for p in paths]
        meta = [p for p in paths if p.name.startswith(META_PREFIX)]
        reviews = [p for p in paths if not p.name.startswith(META_PREFIX)]
        if len(reviews) != 1 or len(meta) > 1:
            raise DataError(
                f"{self.name}: expected one reviews file and at most one {META_PREFIX}* metadata file, "
                f"got {', '.join(map(str, paths))}"
            )
        return events_from_files(
            reviews[0],
            meta[0] if meta else None,
            read_events=self.read_reviews,
            read_items=self.read_meta,
            source=f"Amazon reviews ({self.name})",
            item_text=ITEM_TEXT,
            without_items="none (no metadata file)",
        )


AMAZON_2018 = AmazonLayout(
    name="amazon-2018",
    description="Amazon reviews 2018 JSON lines (reviewerID, asin, unixReviewTime) + meta_*",
    user_key="reviewerID",
    item_keys=("asin",),
    time_key="unixReviewTime",
    meta_item_keys=("asin",),
    category_keys=("category", "categories"),
)
AMAZON_2023 = AmazonLayout(
    name="amazon-2023",
    description="Amazon reviews 2023 JSON lines (user_id, parent_asin, timestamp ms) + meta_*",
    user_key="user_id",
    item_keys=("parent_asin", "asin"),
    time_key="timestamp",
    meta_item_keys=("parent_asin",),
    category_keys=("categories",),
)
