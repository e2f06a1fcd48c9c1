"""Read a submitted condensed set: Parquet (a folder as `Dataset.save` writes it) or TSV.

TSV form, a folder with (header line required, UTF-8, tab-separated; ids, labels and token
ids are non-negative integers in plain ASCII digits, lists separated by single spaces):
    train.tsv      user_id  item_id  label           (label 1 clicked, 0 shown not clicked)
    histories.tsv  user_id  history                  (item ids separated by spaces; optional)
    items.tsv      item_id  <one column per text field of the original, token ids by spaces>
                                                     (optional: rewritten item text)
Only the train split, histories and items of a submission are used; dev and test are
always the original ones. This is the content track's set; a sequential original's set
(hard sequences or soft ones) is read by `leaderboard.submission.sequential`, which shares
the TSV helpers below (`read_table`, `int_column`, `id_lists`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.dataset import Dataset
from harness.errors import DataError
from leaderboard.submission.rejection import SubmissionRejected


@dataclass(frozen=True)
class CondensedTables:
    train: pd.DataFrame  # user_id, item_id, label
    histories: pd.DataFrame | None  # user_id, history
    items: pd.DataFrame | None  # item_id, text fields
    text_fields: tuple[str, ...] | None
    source: str  # for messages: where the tables came from


def read_condensed(folder: Path, label: str) -> CondensedTables:
    if not folder.is_dir():
        raise SubmissionRejected("condensed set folder not found", file=label)
    if (folder / "manifest.json").is_file():
        return _read_parquet(folder, label)
    if (folder / "train.tsv").is_file():
        return _read_tsv(folder, label)
    raise SubmissionRejected(
        "neither a Parquet dataset (manifest.json) nor a TSV set (train.tsv)", file=label
    )


def _read_parquet(folder: Path, label: str) -> CondensedTables:
    try:
        dataset = Dataset.load(folder)
    except (DataError, KeyError, TypeError, ValueError) as exc:
        raise SubmissionRejected(f"unreadable condensed set: {exc}", file=label) from None
    train = dataset.split("train")[["user_id", "item_id", "label"]]
    return CondensedTables(train, dataset.histories, dataset.items, dataset.text_fields, label)


def read_table(path: Path, label: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            sep="\t",
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_NONE,
            encoding="utf-8",
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SubmissionRejected(f"unreadable TSV: {exc}", file=label) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SubmissionRejected(
            f"missing column {missing[0]!r} (header line required)", file=label
        )
    return frame


# an id or a label in a TSV cell: plain ASCII digits, nothing else ("40.9", "1e0", "+3",
# " 7", "0x10", "NaN", "-1" and an empty cell are refused), at most int64's largest value
_PLAIN_DIGITS = r"[0-9]+"
_INT64_MAX = str(2**63 - 1)


def plain_integers(text: pd.Series) -> pd.Series:
    """True where the cell is a plain non-negative decimal integer that fits int64."""
    digits = text.str.fullmatch(_PLAIN_DIGITS).fillna(False).astype(bool)
    length = text.str.len()
    fits = (length < len(_INT64_MAX)) | ((length == len(_INT64_MAX)) & (text <= _INT64_MAX))
    return digits & fits


def int_column(frame: pd.DataFrame, column: str, label: str) -> pd.Series:
    """`column` as int64; a cell that is not plain decimal digits is refused with its line."""
    text = frame[column].astype(str)
    bad = ~plain_integers(text)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise SubmissionRejected(
            f"{column} must be an integer in plain digits 0-9 (no sign, point, exponent or "
            f"spaces), got {text.iloc[row]!r}",
            file=label,
            where=f"line {row + 2}",
        )
    return text.astype("int64")


def _plain_integer(token: str) -> int | None:
    """The value of a plain-digits token that fits int64, else None."""
    if not (token.isascii() and token.isdigit()):
        return None
    value = int(token)
    return value if value < 2**63 else None


def id_lists(frame: pd.DataFrame, column: str, label: str) -> list[list[int]]:
    """`column` as lists of ints: plain decimal digits separated by spaces."""
    out = []
    for row, text in enumerate(frame[column].tolist()):
        tokens = text.split(" ")
        values = [_plain_integer(t) for t in tokens] if text else []
        if None in values:
            bad = tokens[values.index(None)]
            raise SubmissionRejected(
                f"{column} must be integers in plain digits 0-9 separated by single spaces, "
                f"got {bad!r}",
                file=label,
                where=f"line {row + 2}",
            )
        out.append(values)
    return out


def _read_tsv(folder: Path, label: str) -> CondensedTables:
    train_label = f"{label}/train.tsv"
    raw = read_table(folder / "train.tsv", train_label, ("user_id", "item_id", "label"))
    train = pd.DataFrame(
        {c: int_column(raw, c, train_label) for c in ("user_id", "item_id", "label")}
    )
    histories = None
    if (folder / "histories.tsv").is_file():
        hist_label = f"{label}/histories.tsv"
        raw = read_table(folder / "histories.tsv", hist_label, ("user_id", "history"))
        histories = pd.DataFrame(
            {
                "user_id": int_column(raw, "user_id", hist_label),
                "history": id_lists(raw, "history", hist_label),
            }
        )
    items, fields = None, None
    if (folder / "items.tsv").is_file():
        item_label = f"{label}/items.tsv"
        raw = read_table(folder / "items.tsv", item_label, ("item_id",))
        fields = tuple(c for c in raw.columns if c != "item_id")
        items = pd.DataFrame({"item_id": int_column(raw, "item_id", item_label)})
        for field in fields:
            items[field] = id_lists(raw, field, item_label)
    return CondensedTables(train, histories, items, fields, label)
