"""The TF-DCon release: conversion, variants, sha256 checks, mirror and cache behaviour."""

from __future__ import annotations

import shutil

import pytest

from harness.data import fetch_dataset, is_cached, load_dataset
from harness.data.fetch import RemoteFile, fetch_file
from harness.errors import DataError

ML = "movielens-tfdcon"


@pytest.fixture(scope="module")
def movielens(mirror, session_cache):
    return load_dataset(ML, mirror=mirror, cache=session_cache)


def test_original_split_sizes(movielens):
    train, dev, test = (movielens.split(s) for s in ("train", "dev", "test"))
    assert (len(train), train["user_id"].nunique()) == (48954, 939)
    assert len(dev) == 12239
    assert (len(test), test["user_id"].nunique()) == (5122, 686)
    assert movielens.num_items == 1682
    assert movielens.items["item_id"].tolist() == list(range(1682))
    assert movielens.text_fields == ("name", "year")
    assert len(movielens.histories) == 943
    assert movielens.meta["variant"] == "original"
    assert (movielens.interactions["group_id"] == movielens.interactions["user_id"]).all()


@pytest.mark.parametrize(
    ("variant", "fields", "text_of_item_1"),
    [
        ("random", ("name",), None),
        ("majority", ("name",), None),
        ("condensed", ("sum", "year"), None),
    ],
)
def test_variants_replace_train_only(
    movielens, mirror, session_cache, variant, fields, text_of_item_1
):
    ds = load_dataset(ML, variant=variant, mirror=mirror, cache=session_cache)
    train = ds.split("train")
    assert ds.text_fields == fields
    assert ds.meta["variant"] == variant
    assert ds.meta["negatives_from"] == "original"
    assert (train["label"] == 1).all()
    assert 40 <= train["user_id"].nunique() <= 50
    assert len(train) < len(movielens.split("train")) / 5
    for split in ("dev", "test"):
        assert ds.split(split).equals(movielens.split(split))
    assert ds.histories.equals(movielens.histories)


def test_random_text_joined_by_mid(mirror, session_cache):
    """random.npy rows are not in mid order: item 1 must not get mid 863's text."""
    random_ds = load_dataset(ML, variant="random", mirror=mirror, cache=session_cache)
    assert random_ds.items["item_id"].tolist() == list(range(1682))
    from harness.text import get_tokenizer

    text = get_tokenizer().decode(random_ds.items.set_index("item_id")["name"][1])
    assert "rooms" in text or "four" in text


def test_second_load_needs_no_mirror(movielens, session_cache, monkeypatch):
    monkeypatch.delenv("CONDBENCH_MIRROR", raising=False)
    again = load_dataset(ML, cache=session_cache)
    assert again.interactions.equals(movielens.interactions)
    assert is_cached(ML, "original", session_cache)


def test_goodreads_variants_and_missing_original(mirror, session_cache):
    ready = fetch_dataset("goodreads-tfdcon", mirror=mirror, cache=session_cache)
    assert ready == ["original", "random", "majority", "condensed"]
    condensed = load_dataset("goodreads-tfdcon", variant="condensed", cache=session_cache)
    assert condensed.num_items == 16833
    assert condensed.text_fields == ("sum",)
    assert condensed.meta["negatives_from"] == "catalogue"  # no original train to draw from


def test_goodreads_original_is_an_evaluation_reference(mirror, session_cache):
    """The public copy lacks the original train split: `original` has the original item text
    (title + description, joined by bid), the histories, dev and test, and no train row."""
    reference = load_dataset("goodreads-tfdcon", mirror=mirror, cache=session_cache)
    assert reference.meta["train_missing"] is True
    assert reference.meta["negatives_from"] == "catalogue"
    assert reference.split("train").empty
    assert reference.text_fields == ("title", "desc")
    counts = reference.interactions.groupby("split").size().to_dict()
    assert counts == {"dev": 68022, "test": 71021}
    assert reference.split("test")["user_id"].nunique() == 23089
    lengths = reference.items["title"].map(len) + reference.items["desc"].map(len)
    assert abs(float(lengths.mean()) - 35.37) < 0.01  # the paper's Table II: 35.37 tokens
    condensed = load_dataset("goodreads-tfdcon", variant="condensed", cache=session_cache)
    assert reference.split("test").equals(condensed.split("test"))


def test_corrupted_mirror_file_is_rejected_and_not_cached(mirror, tmp_path):
    bad_mirror = tmp_path / "mirror"
    shutil.copytree(
        mirror / "tfdcon-release" / "dataset" / "movielens",
        bad_mirror / "tfdcon-release" / "dataset" / "movielens",
    )
    target = bad_mirror / "tfdcon-release" / "dataset" / "movielens" / "user" / "history.npy"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_dataset(ML, mirror=bad_mirror, cache=cache)
    assert not list((cache / "downloads").rglob("history.npy*"))
    assert not (cache / "datasets" / ML).exists() or not any(
        (cache / "datasets" / ML).rglob("manifest.json")
    )


def test_unreachable_source_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("CONDBENCH_MIRROR", raising=False)
    remote = RemoteFile(
        source="t",
        path="x/y.npy",
        url="http://127.0.0.1:9/y.npy",
        mirror_path="t/x/y.npy",
        sha256="0" * 64,
    )
    with pytest.raises(DataError) as info:
        fetch_file(remote, cache=tmp_path)
    message = str(info.value)
    assert "not reachable" in message and "--mirror" in message and "CONDBENCH_MIRROR" in message
    assert "\n" not in message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_unknown_name_and_variant(session_cache):
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load_dataset("nope", cache=session_cache)
    with pytest.raises(DataError, match="unknown variant 'tiny'"):
        load_dataset(ML, variant="tiny", cache=session_cache)
