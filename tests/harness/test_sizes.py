"""Canonical size accounting on datasets small enough to count by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.dataset import Dataset, normalise_interactions
from harness.sizes import KB, SizeReport, canonical_sizes, item_part_tsv, size_ratio, user_part_tsv

TOY, STORY, YEAR_1995 = 9121, 2466, 2786


def tiny(train_rows: list[tuple[int, int, int]]) -> Dataset:
    items = pd.DataFrame(
        {"item_id": [0, 1], "name": [[TOY, STORY], [STORY]], "year": [[YEAR_1995], []]}
    )
    histories = pd.DataFrame({"user_id": [7, 8], "history": [[0, 1], [1]]})
    rows = [("train", u, i, y, u) for u, i, y in train_rows] + [("test", 8, 0, 1, 8)]
    interactions = normalise_interactions(
        pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    )
    return Dataset("tiny", items, ("name", "year"), histories, interactions)


def test_item_part_by_hand():
    text = item_part_tsv(tiny([(7, 0, 1)]))
    assert text == "item_id\tname\tyear\n0\ttoy story\t1995\n1\tstory\t\n"
    assert canonical_sizes(tiny([(7, 0, 1)])).item_bytes == len(text) == 44


def test_user_part_by_hand_counts_only_train_users():
    dataset = tiny([(7, 1, 0), (7, 0, 1)])
    text = user_part_tsv(dataset)
    assert text == "user_id\thistory\n7\t0 1\nuser_id\titem_id\tlabel\n7\t1\t0\n7\t0\t1\n"
    report = canonical_sizes(dataset)
    assert report.user_bytes == len(text.encode()) == 16 + 6 + 22 + 6 + 6
    assert report.overall_bytes == 44 + 56
    assert report.overall_kb == pytest.approx(100 / KB)


def test_ratios():
    condensed = SizeReport(item_bytes=50, user_bytes=10)
    original = SizeReport(item_bytes=100, user_bytes=100)
    assert size_ratio(condensed, original) == {
        "ratio_item": 0.5,
        "ratio_user": 0.1,
        "ratio_overall": 60 / 200,
    }
    assert math.isnan(size_ratio(condensed, SizeReport(0, 0))["ratio_item"])


def test_utf8_text_counts_bytes_not_characters():
    dataset = tiny([(7, 0, 1)])
    from harness.text import get_tokenizer

    dataset.items.at[1, "name"] = get_tokenizer().encode("£")
    text = item_part_tsv(dataset)
    assert text.endswith("1\t£\t\n")
    assert canonical_sizes(dataset).item_bytes == len(text) + 1  # '£' is 2 bytes in UTF-8
