"""The RecBole atomic and Amazon review loaders on files the tests write, through the builder."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.data.amazon_reviews import AMAZON_2018, AMAZON_2023
from harness.data.importing import import_sequential
from harness.data.recbole_atomic import RECBOLE_ATOMIC
from harness.data.sequential_protocol import SequentialSettings
from harness.errors import ConfigError, DataError

ONE_CORE = SequentialSettings(min_count=1)


def write_lines(path, lines: list[str], *, gz: bool = False) -> None:
    data = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)


# ---- RecBole atomic files ------------------------------------------------------------------
INTER = [
    "timestamp:float\titem_id:token\trating:float\tuser_id:token",  # any order, extra column
    "300\t12\t4\tu1",
    "100\t7\t5\tu1",
    "100.0\t12\t1\tu2",
    "200\t5\t3\tu1",
    "100\t5\t2\tu2",
    "150\t7\t2\tu2",
]
ITEM = [
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq\tprice:float",
    "5\tToy Story\t1995\tAnimation Children's Comedy\t1.5",
    "7\tKolya\t\tComedy\t2",
    "12\tHeat\t1995\t\t3",
]


def test_recbole_files_read_and_build(tmp_path):
    write_lines(tmp_path / "toy.inter", INTER)
    write_lines(tmp_path / "toy.item", ITEM)
    raw = RECBOLE_ATOMIC.read([tmp_path / "toy.item", tmp_path / "toy.inter"])
    assert raw.events.values.tolist() == [
        ["u1", "12", 300, 0], ["u1", "7", 100, 1], ["u2", "12", 100, 2],
        ["u1", "5", 200, 3], ["u2", "5", 100, 4], ["u2", "7", 150, 5],
    ]  # fmt: skip
    assert raw.items["text"].tolist() == [
        "Toy Story (1995) | Animation, Children's, Comedy",
        "Kolya | Comedy",
        "Heat (1995)",
    ]
    dataset = import_sequential(
        "recbole", [tmp_path / "toy.inter", tmp_path / "toy.item"], name="toy", settings=ONE_CORE
    )
    assert dataset.items["source_id"].tolist() == ["5", "7", "12"]  # numeric order of tokens
    # u1: 7 (t100), 5 (t200), 12 (t300); u2: 12 (t100, row 2) before 5 (t100, row 4), 7 (t150)
    assert dataset.histories["history"].tolist() == [[1], [2]]
    assert dataset.split("dev")["item_id"].tolist() == [0, 0]
    assert dataset.split("test").query("label == 1")["item_id"].tolist() == [2, 1]
    assert (
        len(dataset.meta["source_files"]) == 2
        and dataset.meta["sha256"] in dataset.meta["source_files"].values()
    )


def test_recbole_title_and_categories_columns(tmp_path):
    write_lines(tmp_path / "a.inter", ["user_id:token\titem_id:token\ttimestamp:float", "1\tx\t1"])
    write_lines(
        tmp_path / "a.item",
        [
            "item_id:token\ttitle:token_seq\tcategories:token_seq\tbrand:token",
            "x\tA Book\tFiction Poetry\tAcme",
        ],
    )
    raw = RECBOLE_ATOMIC.read([tmp_path / "a.inter", tmp_path / "a.item"])
    assert raw.items["text"].tolist() == ["A Book | Fiction, Poetry"]


@pytest.mark.parametrize(
    ("inter", "message"),
    [
        (["user_id:token\titem_id:token\trating:float", "1\t2\t3"], r"a.inter \(line 1\): missing column 'timestamp'"),
        (["user_id:token\titem_id:token\ttimestamp:float", "1\t2\t3", "1\t2\t12.5"], r"a.inter \(line 3\): timestamp '12.5' is not an integer"),
        (["user_id:token\titem_id:token\ttimestamp:float", "1\t2\t3", "1\t2"], r"a.inter \(line 3\): .*2 fields, expected 3"),
        (["user_id:token\titem_id:token\ttimestamp:float", "\t2\t3"], r"a.inter \(line 2\): empty user_id"),
    ],
)  # fmt: skip
def test_recbole_bad_lines(tmp_path, inter, message):
    write_lines(tmp_path / "a.inter", inter)
    with pytest.raises(DataError, match=message):
        RECBOLE_ATOMIC.read([tmp_path / "a.inter"])


def test_recbole_non_utf8_names_the_line(tmp_path):
    (tmp_path / "a.inter").write_bytes(
        b"user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t\xe9t\xe9\t4\n"
    )
    with pytest.raises(DataError, match=r"a.inter \(line 3\): not valid UTF-8"):
        RECBOLE_ATOMIC.read([tmp_path / "a.inter"])


def test_recbole_needs_one_inter_file(tmp_path):
    write_lines(tmp_path / "a.item", ITEM)
    with pytest.raises(DataError, match=r"expected one <name>.inter"):
        RECBOLE_ATOMIC.read([tmp_path / "a.item"])


# ---- Amazon reviews --------------------------------------------------------------------------
def review_2018(user, asin, time):
    return json.dumps({"reviewerID": user, "asin": asin, "unixReviewTime": time, "overall": 5.0})


def review_2023(user, item, time, parent=True):
    record = {"user_id": user, "asin": f"child-{item}", "timestamp": time, "rating": 4.0}
    if parent:
        record["parent_asin"] = item
    else:
        record["asin"] = item
    return json.dumps(record)


def test_amazon_2018_layout(tmp_path):
    write_lines(
        tmp_path / "Video_Games_5.json",
        [review_2018("A2", "B01", 1_400_000_000), review_2018("A1", "B02", 1_300_000_000),
         review_2018("A2", "B02", 1_400_000_000), review_2018("A1", "B01", 1_350_000_000),
         review_2018("A2", "B03", 1_500_000_000), review_2018("A1", "B03", 1_200_000_000)],
    )  # fmt: skip
    write_lines(
        tmp_path / "meta_Video_Games.json.gz",
        [json.dumps({"asin": "B01", "title": "Halo", "category": ["Games", "Xbox", "Games"]}),
         json.dumps({"asin": "B02", "title": "Myst", "categories": [["Games", "PC"], ["Puzzle"]]}),
         json.dumps({"asin": "B01", "title": "a later duplicate"})],
        gz=True,
    )  # fmt: skip
    paths = [tmp_path / "meta_Video_Games.json.gz", tmp_path / "Video_Games_5.json"]
    raw = AMAZON_2018.read(paths)
    assert raw.items.values.tolist()[:2] == [
        ["B01", "Halo | Games, Xbox"],
        ["B02", "Myst | Games, PC, Puzzle"],
    ]
    dataset = import_sequential("amazon-2018", paths, name="games", settings=ONE_CORE)
    assert dataset.meta["user_source_ids"] == ["A1", "A2"]
    assert dataset.items["source_id"].tolist() == ["B01", "B02", "B03"]
    # A1: B03 (t1.2e9), B02, B01; A2: B01 and B02 tie at t1.4e9 (rows 0, 2), then B03
    assert dataset.histories["history"].tolist() == [[2], [0]]
    assert dataset.split("dev")["item_id"].tolist() == [1, 1]
    assert dataset.split("test").query("label == 1")["item_id"].tolist() == [0, 2]
    assert dataset.meta["counts"]["items_without_text"] == 1  # B03 has no metadata


def test_amazon_2023_layout_gzip_and_asin_fallback(tmp_path):
    write_lines(
        tmp_path / "All_Beauty.jsonl.gz",
        [review_2023("U1", "P1", 1_600_000_000_000), review_2023("U1", "P2", 1_600_000_000_001),
         review_2023("U1", "P3", 1_600_000_000_002, parent=False)],
        gz=True,
    )  # fmt: skip
    write_lines(
        tmp_path / "meta_All_Beauty.jsonl",
        [json.dumps({"parent_asin": "P2", "title": "Soap", "categories": ["Bath", "Soap"]}),
         json.dumps({"parent_asin": "P1", "title": "Brush", "categories": []})],
    )  # fmt: skip
    paths = [tmp_path / "All_Beauty.jsonl.gz", tmp_path / "meta_All_Beauty.jsonl"]
    raw = AMAZON_2023.read(paths)
    assert raw.events[["user", "item", "timestamp"]].values.tolist() == [
        ["U1", "P1", 1_600_000_000_000], ["U1", "P2", 1_600_000_000_001], ["U1", "P3", 1_600_000_000_002],
    ]  # fmt: skip
    assert dict(raw.items.values.tolist()) == {"P2": "Soap | Bath, Soap", "P1": "Brush"}
    dataset = import_sequential("amazon-2023", paths, name="beauty", settings=ONE_CORE)
    assert dataset.histories["history"].tolist() == [[0]]
    assert dataset.split("test")["item_id"].tolist() == [2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"user_id": "U1", "parent_asin": "P1", "timestamp": 5', r"\(line 2\): bad JSON"),
        ('{"user_id": "U1", "parent_asin": "P1"}', r"\(line 2\): missing key 'timestamp'"),
        ('{"user_id": "U1", "timestamp": 5}', r"\(line 2\): missing key 'parent_asin' or 'asin'"),
        ('{"user_id": "U1", "parent_asin": "P1", "timestamp": "later"}', r"\(line 2\): timestamp 'later' is not an integer"),
        ('{"parent_asin": "P1", "timestamp": 5}', r"\(line 2\): missing key 'user_id'"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("gz", [False, True])
def test_amazon_bad_lines_name_file_and_line(tmp_path, line, message, gz):
    path = tmp_path / ("r.jsonl.gz" if gz else "r.jsonl")
    write_lines(path, [review_2023("U1", "P1", 1), line], gz=gz)
    with pytest.raises(DataError, match=rf"r.jsonl(.gz)? {message}"):
        AMAZON_2023.read([path])


def test_amazon_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "r.json.gz"
    path.write_bytes(
        gzip.compress(review_2018("A1", "B1", 1).encode() + b'\n{"reviewerID": "\xff"}\n')
    )
    with pytest.raises(DataError, match=r"r.json.gz \(line 2\): not valid UTF-8"):
        AMAZON_2018.read([path])


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="amazon-2018"):
        import_sequential("amazon-2014", [tmp_path / "x"], name="x")
    with pytest.raises(DataError, match="no such file"):
        import_sequential("amazon-2018", [tmp_path / "x.json"], name="x")
