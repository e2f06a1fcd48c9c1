"""The MIND-format loader on generated fixtures."""

from __future__ import annotations

import pytest
from mind_format_fixtures import behaviors_tsv, write_mind_mirror

from harness.data import load_dataset
from harness.text import get_tokenizer


@pytest.fixture
def mind(tmp_path):
    mirror = write_mind_mirror(tmp_path / "mirror")
    return load_dataset("mind-small", mirror=mirror, cache=tmp_path / "cache")


def test_items_and_text(mind):
    assert mind.text_fields == ("title", "abstract", "category")
    assert mind.items["source_id"].tolist() == ["N1", "N2", "N3", "N4", "N5"]
    decode = get_tokenizer().decode
    first = mind.items.iloc[0]
    assert decode(first["title"]) == "local team wins the cup"
    assert decode(first["category"]) == "sports"
    assert list(mind.items.iloc[1]["abstract"]) == []


def test_impressions_are_groups_and_splits(mind):
    train, dev, test = (mind.split(s) for s in ("train", "dev", "test"))
    # 4 train impressions: the latest tenth (int(0.4) = 0) -> no dev impression from train
    assert train["group_id"].nunique() == 4 and len(dev) == 0
    assert len(train) == 3 + 2 + 2 + 2
    assert test["group_id"].nunique() == 2 and len(test) == 5
    first = train[train["group_id"] == 0]
    assert first["item_id"].tolist() == [1, 3, 4]  # N2, N4, N5
    assert first["label"].tolist() == [0, 1, 0]
    assert int(train["label"].sum()) == 4


def test_users_and_histories(mind):
    history = mind.history_of()
    assert len(history) == 4  # U1, U2, U3 from train, U4 only in MIND dev
    users = mind.split("train").drop_duplicates("group_id")["user_id"].tolist()
    assert history[users[0]] == [0, 2]  # U1: N1 N3
    assert history[users[3]] == []  # U3 has an empty history
    mind.validate()


def test_dev_is_the_latest_train_impressions(tmp_path):
    many = [
        (str(i), f"U{i % 3}", f"11/{10 + i}/2019 9:00:00 AM", "N1", "N2-1 N3-0")
        for i in range(1, 21)
    ]
    mirror = write_mind_mirror(tmp_path / "m", train_behaviors=behaviors_tsv(many[::-1]))
    dataset = load_dataset("mind-small", mirror=mirror, cache=tmp_path / "c")
    dev = dataset.split("dev")
    assert dev["group_id"].nunique() == 2
    # the two latest (11/29 and 11/30) were written first in the file: groups 0 and 1
    assert sorted(dev["group_id"].unique().tolist()) == [0, 1]
