"""Read a submitted condensed set: Parquet (a folder as `Dataset.save` writes it) or TSV.

TSV form, a folder with (header line required, UTF-8, tab-separated, ids are integers):
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


def int_column(frame: pd.DataFrame, column: str, label: str) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    whole = values.notna() & (values.abs() < 2**63) & (values == values.round())
    bad = ~whole  # "1.5", "1e400" and ids past int64 are no ids
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise SubmissionRejected(
            f"{column} must be an integer, got {frame[column].iloc[row]!r}",
            file=label,
            where=f"line {row + 2}",
        )
    return values.astype("int64")


def id_lists(frame: pd.DataFrame, column: str, label: str) -> list[list[int]]:
    out = []
    for row, text in enumerate(frame[column].tolist()):
        try:
            out.append([int(t) for t in text.split()])
        except ValueError:
            raise SubmissionRejected(
                f"{column} must be integers separated by spaces",
                file=label,
                where=f"line {row + 2}",
            ) from None
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
