"""The sequential builder on hand-made event tables with answers computed by hand."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from harness.data.sequential_protocol import (
    SequentialEvents,
    SequentialSettings,
    build_sequential,
    integer_timestamp,
)
from harness.errors import ConfigError, DataError

# (user, item, timestamp); the row is the position in this list.
HAND_EVENTS = [
    ("2", 20, 100), ("2", 30, 100), ("10", 20, 50), ("7", 9, 60), ("5", 50, 10),
    ("2", 60, 90), ("10", 30, 55), ("7", 20, 70), ("3", 9, 20), ("10", 50, 300),
    ("7", 30, 80), ("3", 20, 30), ("2", 50, 200), ("10", 60, 65), ("7", 60, 85),
    ("3", 30, 40), ("3", 60, 45), ("5", 20, 15), ("3", 50, 500), ("2", 40, 300),
    ("5", 30, 16),
]  # fmt: skip


def events_of(rows, items=None, text=None) -> SequentialEvents:
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    frame["row"] = range(len(frame))
    items = sorted(frame["item"].unique()) if items is None else items
    item_table = pd.DataFrame({"item": items, "text": [text or f"item {i}" for i in items]})
    return SequentialEvents(frame, item_table, source="hand", sha256="0" * 64, item_text="item N")


def split_pairs(dataset, split, label=1):
    frame = dataset.split(split)
    frame = frame[frame["label"] == label]
    return list(zip(frame["user_id"].tolist(), frame["item_id"].tolist(), strict=True))


@pytest.fixture(scope="module")
def hand():
    return build_sequential(events_of(HAND_EVENTS), "hand", SequentialSettings(min_count=4))


def test_one_core_pass_counts_on_the_unfiltered_table(hand):
    # unfiltered counts: users 2:5, 10:4, 7:4, 5:3, 3:5; items 20:5, 30:5, 50:4, 60:4, 9:2, 40:1
    # -> user 5 and items 9, 40 go (rows 3, 4, 8, 17, 19, 20). An iterative 4-core would also
    # drop user 7 (3 events left) and then item 50 (3 left, its 4th was user 5's): one pass keeps both.
    assert hand.items["source_id"].tolist() == [20, 30, 50, 60]
    assert hand.meta["user_source_ids"] == ["2", "3", "7", "10"]  # decimal ids sort as numbers
    counts = hand.meta["counts"]
    assert (counts["interactions"], counts["users"], counts["items"]) == (15, 4, 4)
    assert counts["events_dropped_by_core"] == 6 and counts["users_too_short"] == 0
    assert hand.meta["source_counts"] == {"interactions": 21, "users": 5, "items": 6}


def test_ties_break_by_source_row_then_leave_one_out(hand):
    # user "2" (id 0): row 5 (60, t90), rows 0 and 1 tie at t100 (20 then 30), row 12 (50, t200)
    histories = dict(zip(hand.histories["user_id"], hand.histories["history"], strict=True))
    assert histories == {0: [3, 0], 1: [0, 1], 2: [0], 3: [0, 1]}
    assert split_pairs(hand, "dev") == [(0, 1), (1, 3), (2, 1), (3, 3)]
    assert split_pairs(hand, "test") == [(0, 2), (1, 2), (2, 3), (3, 2)]
    assert hand.meta["version"] == "1-ts-row" and "source row" in hand.meta["order"]


def test_train_rows_are_in_global_time_order(hand):
    # train events by time: t30 (3,20) t40 (3,30) t50 (10,20) t55 (10,30) t70 (7,20) t90 (2,60) t100 (2,20)
    assert split_pairs(hand, "train") == [(1, 0), (1, 1), (3, 0), (3, 1), (2, 0), (0, 3), (0, 0)]
    train = hand.split("train")
    assert (train["group_id"] == train["user_id"]).all() and (train["label"] == 1).all()
    assert hand.meta["kind"] == "sequential" and hand.meta["cutoffs"] == [10, 20]


def test_few_untouched_items_give_all_of_them(hand):
    # only user "7" (id 2) leaves an item untouched: item 50 (id 2)
    assert split_pairs(hand, "test", label=0) == [(2, 2)]
    assert hand.meta["counts"]["users_short_of_negatives"] == 4
    assert hand.meta["counts"]["negatives"] == 1


def test_a_user_left_with_fewer_than_three_events_is_dropped():
    rows = [("a", 1, 1), ("a", 2, 2), ("a", 3, 3), ("b", 1, 1), ("b", 9, 2), ("b", 2, 3),
            ("c", 3, 1), ("c", 1, 2), ("c", 2, 3)]  # fmt: skip
    dataset = build_sequential(events_of(rows), "short", SequentialSettings(min_count=2))
    # item 9 has one event: user b keeps 2 events, too few for train, dev and test
    assert dataset.meta["user_source_ids"] == ["a", "c"]
    assert dataset.meta["counts"]["users_too_short"] == 1
    assert dataset.meta["counts"]["events_dropped_by_core"] == 1
    assert dataset.items["source_id"].tolist() == [1, 2, 3]


def random_events(seed: int = 5, users: int = 30, items: int = 200) -> SequentialEvents:
    rng = np.random.default_rng(seed)
    rows = [(u, int(i), int(t)) for u in range(users)
            for t, i in enumerate(rng.choice(items, size=12, replace=False))]  # fmt: skip
    rows += [(users, i, i) for i in range(150)]  # touches 150 of the 200 items
    rows += [(users + 1, i, i) for i in range(items)]  # touches all: every item is kept
    return events_of(rows, items=list(range(items)))


def test_negatives_are_untouched_fixed_by_the_seed_and_hashed():
    settings = SequentialSettings(min_count=1)
    first = build_sequential(random_events(), "rand", settings)
    again = build_sequential(random_events(), "rand", settings)
    other = build_sequential(random_events(), "rand", SequentialSettings(min_count=1, seed=1))
    negatives = first.split("test").query("label == 0")
    touched = first.interactions.query("label == 1").groupby("user_id")["item_id"].agg(set)
    per_user = negatives.groupby("user_id")["item_id"].agg(list)
    for user, drawn in per_user.items():
        assert not set(drawn) & touched[user]
        assert drawn == sorted(set(drawn))
    assert [len(per_user[u]) for u in range(30)] == [100] * 30
    assert per_user[30] == list(range(150, 200)) and 31 not in per_user
    assert first.meta["counts"]["users_short_of_negatives"] == 2
    assert negatives.equals(again.split("test").query("label == 0"))
    assert first.meta["negatives"]["sha256"] == again.meta["negatives"]["sha256"]
    assert other.meta["negatives"]["sha256"] != first.meta["negatives"]["sha256"]
    table = np.stack([negatives["user_id"], negatives["item_id"]], axis=1).astype("<i8")
    assert first.meta["negatives"]["sha256"] == hashlib.sha256(table.tobytes()).hexdigest()
    assert first.meta["negatives"]["seed"] == 0 and other.meta["negatives"]["seed"] == 1
    assert (negatives["group_id"] == negatives["user_id"]).all()


def test_item_text_is_tokenized_and_missing_text_counted():
    from harness.text import get_tokenizer

    rows = [("u", 1, 1), ("u", 2, 2), ("u", 3, 3)]
    raw = events_of(rows, items=[1, 2], text="Toy Story (1995) | Comedy")
    dataset = build_sequential(raw, "text", SequentialSettings(min_count=1))
    expected = get_tokenizer().encode("Toy Story (1995) | Comedy")
    assert dataset.items["text"].tolist() == [expected, expected, []]
    assert dataset.meta["counts"]["items_without_text"] == 1
    dataset.validate()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("881250949", 881250949), ("881250949.0", 881250949), (1.7e12, 1_700_000_000_000)],
)
def test_integer_timestamps(value, expected):
    assert integer_timestamp(value, "f", "line 1") == expected


@pytest.mark.parametrize("value", ["12.5", "soon", None, True, 1.5, [1]])
def test_non_integer_timestamps_are_refused(value):
    with pytest.raises(DataError, match=r"^f \(line 3\): timestamp .* is not an integer"):
        integer_timestamp(value, "f", "line 3")


def test_settings_name_the_key():
    with pytest.raises(ConfigError, match="sequential setting 'min_count'"):
        SequentialSettings(min_count=0)
