"""The UCSD Goodreads dump loader on generated gzip JSON-lines fixtures."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.data import load_dataset
from harness.errors import DataError


def write_gz(path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))


def date(day: int) -> str:
    return f"Mon Aug {day:02d} 13:41:57 -0700 2011"


def interaction(user: str, book: str, rating: int, day: int) -> bytes:
    return json.dumps(
        {
            "user_id": user,
            "book_id": book,
            "rating": rating,
            "date_added": date(day),
            "is_read": True,
        }
    ).encode()


def book(book_id: str, title: str, description: str = "") -> bytes:
    return json.dumps(
        {"book_id": book_id, "title": title, "description": description, "isbn": ""}
    ).encode()


def mirror_with(tmp_path, interactions: list[bytes], books: list[bytes] | None = None):
    root = tmp_path / "mirror"
    books = books or [book(str(b), f"poems number {b}", "verse") for b in range(1, 13)]
    write_gz(root / "goodreads" / "goodreads_books_poetry.json.gz", books)
    write_gz(root / "goodreads" / "goodreads_interactions_poetry.json.gz", interactions)
    return root


def ten_ratings(user: str) -> list[bytes]:
    return [interaction(user, str(b), 5 if b % 2 else 2, day=b) for b in range(1, 11)]


def test_conversion(tmp_path):
    lines = ten_ratings("ua") + [interaction("ub", "1", 5, 1), interaction("ua", "12", 0, 20)]
    dataset = load_dataset(
        "goodreads", mirror=mirror_with(tmp_path, lines), cache=tmp_path / "cache"
    )
    # ub has a single rating (< 10) and ua's rating 0 is "not rated": both dropped
    assert len(dataset.histories) == 1
    assert dataset.num_items == 10 and "12" not in dataset.items["source_id"].tolist()
    assert dataset.text_fields == ("title", "description")
    assert dataset.split("test")["item_id"].tolist() == [
        dataset.items["source_id"].tolist().index("10")
    ]
    # positives (odd books) among the first 8 in time: 1, 3, 5, 7 -> the history
    history = dataset.histories["history"].iloc[0]
    assert [dataset.items["source_id"].iloc[i] for i in history] == ["1", "3", "5", "7"]


def test_unknown_book_names_the_line(tmp_path):
    lines = ten_ratings("ua")
    lines[3] = interaction("ua", "999", 4, 4)
    with pytest.raises(
        DataError, match=r"interactions_poetry.json.gz \(line 4\): unknown book id '999'"
    ):
        load_dataset("goodreads", mirror=mirror_with(tmp_path, lines), cache=tmp_path / "cache")


def test_truncated_gzip(tmp_path):
    root = mirror_with(tmp_path, ten_ratings("ua"))
    path = root / "goodreads" / "goodreads_interactions_poetry.json.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="truncated file"):
        load_dataset("goodreads", mirror=root, cache=tmp_path / "cache")
    assert not any((tmp_path / "cache").rglob("*.parquet"))


def test_bad_json_and_non_utf8(tmp_path):
    lines = ten_ratings("ua")
    lines[5] = b'{"user_id": "ua", "book_id": '
    with pytest.raises(DataError, match=r"\(line 6\): bad JSON"):
        load_dataset(
            "goodreads", mirror=mirror_with(tmp_path / "a", lines), cache=tmp_path / "a" / "c"
        )
    lines = ten_ratings("ua")
    lines[2] = lines[2].replace(b'"ua"', b'"u\xff"')
    with pytest.raises(DataError, match=r"\(line 3\): not valid UTF-8"):
        load_dataset(
            "goodreads", mirror=mirror_with(tmp_path / "b", lines), cache=tmp_path / "b" / "c"
        )
