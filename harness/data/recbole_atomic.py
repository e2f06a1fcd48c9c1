"""RecBole atomic files a user brings: ``<name>.inter`` (events) and ``<name>.item`` (text).

Both are UTF-8, tab-separated, with a header of ``field:type`` names in any order
(``user_id:token``, ``item_id:token``, ``timestamp:float``, ...; columns are found by the
name before the colon, extra columns are ignored). ``.inter`` needs ``user_id``,
``item_id`` and ``timestamp`` (an integral number); "source row" is the data line's
0-based position. ``.item`` (optional) needs ``item_id``; its text (`ITEM_TEXT`):

- the title: the first column present of `TITLE_COLUMNS`, as written;
- then " (year)" when a column of `YEAR_COLUMNS` is present and not empty;
- then " | " and the categories: the tokens of every column of `CATEGORY_COLUMNS`
  present (header order; ``token_seq`` tokens are space-separated, RecBole's default),
  joined with ", ".

So the ml-100k files of the ``recbole`` wheel read "Toy Story (1995) | Animation,
Children's, Comedy", as ``ml-100k-seq`` does. Other columns (price, brand, ...) are not
text. Every line is checked (field count, ids, timestamp, UTF-8); a bad one is one
`DataError` naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.data.sequential_protocol import (
    SequentialEvents,
    events_from_files,
    integer_timestamp,
)
from harness.data.textfiles import read_text, split_rows, text_lines
from harness.errors import DataError

TITLE_COLUMNS = ("movie_title", "title", "name")
YEAR_COLUMNS = ("release_year", "year")
CATEGORY_COLUMNS = ("genre", "genres", "class", "categories", "category")
ITEM_TEXT = (
    "title (year) | categories: title from movie_title/title/name, year from "
    "release_year/year, categories the tokens of genre/genres/class/categories/category "
    "joined with ', '"
)


def read_atomic(
    path: Path, required: tuple[str, ...]
) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """(column name -> index, (line number, fields) per data line) of one atomic file."""
    source = str(path)
    text = read_text(path)
    lines = text_lines(text)
    first = next(lines, None)
    if first is None:
        raise DataError("empty file", file=source)
    number, header = first
    names = [field.split(":", 1)[0].strip() for field in header.split("\t")]
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(
            f"missing column {missing[0]!r} (header: {header.strip()})",
            file=source,
            where=f"line {number}",
        )
    columns = {name: index for index, name in reversed(list(enumerate(names)))}
    rows = list(split_rows(text, source, delimiter="\t", columns=len(names), skip_header=True))
    return columns, rows


def _token(value: str, what: str, source: str, number: int) -> str:
    token = value.strip()
    if not token:
        raise DataError(f"empty {what}", file=source, where=f"line {number}")
    return token


def read_inter(path: Path) -> pd.DataFrame:
    columns, rows = read_atomic(path, ("user_id", "item_id", "timestamp"))
    source = str(path)
    user, item, time = columns["user_id"], columns["item_id"], columns["timestamp"]
    records = [
        (
            _token(fields[user], "user_id", source, number),
            _token(fields[item], "item_id", source, number),
            integer_timestamp(fields[time], source, f"line {number}"),
        )
        for number, fields in rows
    ]
    if not records:
        raise DataError("no interactions", file=source)
    events = pd.DataFrame(records, columns=["user", "item", "timestamp"])
    events["row"] = range(len(events))
    return events


def read_item(path: Path) -> pd.DataFrame:
    columns, rows = read_atomic(path, ("item_id",))
    source = str(path)
    title = next((columns[c] for c in TITLE_COLUMNS if c in columns), None)
    year = next((columns[c] for c in YEAR_COLUMNS if c in columns), None)
    categories = sorted(columns[c] for c in CATEGORY_COLUMNS if c in columns)
    if title is None and year is None and not categories:
        known = ", ".join((*TITLE_COLUMNS, *YEAR_COLUMNS, *CATEGORY_COLUMNS))
        raise DataError(f"no text column (one of {known})", file=source, where="line 1")
    records = []
    for number, fields in rows:
        head = fields[title].strip() if title is not None else ""
        when = fields[year].strip() if year is not None else ""
        if when:
            head = f"{head} ({when})".strip()
        tokens = [token for index in categories for token in fields[index].split()]
        text = " | ".join(part for part in (head, ", ".join(tokens)) if part)
        records.append((_token(fields[columns["item_id"]], "item_id", source, number), text))
    return pd.DataFrame(records, columns=["item", "text"])


@dataclass(frozen=True)
class RecBoleAtomic:
    """The `condbench data import recbole` format: one ``.inter`` file, at most one ``.item``."""

    name: str = "recbole"
    description: str = "RecBole atomic files: <name>.inter (+ <name>.item for item text)"

    def read(self, paths: Sequence[Path]) -> SequentialEvents:
        inter = [Path(p) for p in paths if Path(p).suffix == ".inter"]
        item = [Path(p) for p in paths if Path(p).suffix == ".item"]
        other = [str(p) for p in paths if Path(p).suffix not in (".inter", ".item")]
        if len(inter) != 1 or len(item) > 1 or other:
            raise DataError(
                f"recbole: expected one <name>.inter and at most one <name>.item, got {', '.join(map(str, paths))}"
            )
        return events_from_files(
            inter[0],
            item[0] if item else None,
            read_events=read_inter,
            read_items=read_item,
            source="RecBole atomic files",
            item_text=ITEM_TEXT,
            without_items="none (no .item file)",
        )


RECBOLE_ATOMIC = RecBoleAtomic()
