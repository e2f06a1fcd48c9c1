"""Budget parsing and the baselines: original, random, majority (paper §IV-A2)."""

from __future__ import annotations

import numpy as np
import pytest
from condenser_fixtures import POSITIVES, handmade_dataset

from condensers.base import Budget, train_users
from condensers.context import CondenseContext
from condensers.majority import MajorityCondenser
from condensers.original import OriginalCondenser
from condensers.random import RandomCondenser, RandomTextParams, item_tokens
from harness.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("47", Budget(users=47)),
        ("5%", Budget(share=0.05)),
        ("0.05", Budget(share=0.05)),
        (12, Budget(users=12)),
    ],
)
def test_budget_parses_counts_and_shares(text, expected):
    assert Budget.parse(text) == expected


def test_budget_resolves_against_the_population():
    assert Budget.parse("5%").resolve(939) == 47
    assert Budget.parse(0.001).resolve(100) == 1
    assert Budget.parse("3").resolve(10) == 3
    assert Budget(share=1.0).resolve(883, all_users=939) == 883  # every user with a positive
    with pytest.raises(ConfigError, match="only 10"):
        Budget.parse(11).resolve(10)


@pytest.mark.parametrize("bad", ["many", "-3", "150%", "0", "0%"])
def test_budget_rejects_bad_values_with_a_readable_error(bad):
    with pytest.raises(ConfigError, match="budget"):
        Budget.parse(bad)


def _ctx(tmp_path) -> CondenseContext:
    return CondenseContext(cache_dir=tmp_path, progress=False)


def _is_in_order_subset(part: list[int], whole: list[int]) -> bool:
    tokens = iter(whole)
    return all(t in tokens for t in part)


def test_population_skips_users_without_a_train_positive():
    assert train_users(handmade_dataset()).tolist() == [10, 11, 12, 20, 21, 22]


def test_original_is_the_identity(tmp_path):
    dataset = handmade_dataset()
    same = OriginalCondenser().condense(
        dataset, Budget(users=1), np.random.default_rng(0), _ctx(tmp_path)
    )
    assert same.split("train").equals(dataset.split("train"))
    assert same.items is dataset.items


def test_random_picks_users_keeps_their_positives_and_cuts_text(tmp_path):
    dataset = handmade_dataset()
    condenser = RandomCondenser(RandomTextParams(text_tokens=2.5))
    small = condenser.condense(dataset, Budget(users=3), np.random.default_rng(1), _ctx(tmp_path))
    train = small.split("train")
    users = sorted(train["user_id"].unique().tolist())
    assert len(users) == 3 and set(users) <= set(POSITIVES)
    assert (train["label"] == 1).all()
    assert {u: sorted(g["item_id"].tolist()) for u, g in train.groupby("user_id")} == {
        u: sorted(POSITIVES[u]) for u in users
    }
    assert small.meta["negatives_from"] == "original"
    assert small.text_fields == ("text",)
    originals = item_tokens(dataset.items, dataset.text_fields)
    for cut, whole in zip(small.items["text"], originals, strict=True):
        assert len(cut) in (2, 3)  # floor or ceil of 2.5; every item here has >= 4 tokens
        assert _is_in_order_subset(list(cut), whole)
    again = condenser.condense(dataset, Budget(users=3), np.random.default_rng(1), _ctx(tmp_path))
    assert again.split("train").equals(train)
    assert again.items["text"].tolist() == small.items["text"].tolist()


def test_random_text_keeps_short_items_whole_and_can_keep_original_text(tmp_path):
    dataset = handmade_dataset()
    long_target = RandomCondenser(RandomTextParams(text_tokens=50)).condense(
        dataset, Budget(users=2), np.random.default_rng(0), _ctx(tmp_path)
    )
    assert long_target.items["text"].tolist() == item_tokens(dataset.items, dataset.text_fields)
    kept = RandomCondenser(RandomTextParams(text="original")).condense(
        dataset, Budget(users=2), np.random.default_rng(0), _ctx(tmp_path)
    )
    assert kept.text_fields == dataset.text_fields


def test_majority_takes_the_users_with_most_train_rows(tmp_path):
    dataset = handmade_dataset()
    # train rows: 10 -> 3 (2 positives + 1 negative); 11, 21, 22 -> 2; 12, 20 -> 1.
    # top 2: user 10, then the lowest id of the three tied at 2 rows: 11.
    small = MajorityCondenser(RandomTextParams(text_tokens=3)).condense(
        dataset, Budget(users=2), np.random.default_rng(0), _ctx(tmp_path)
    )
    train = small.split("train")
    assert sorted(train["user_id"].unique().tolist()) == [10, 11]
    assert sorted(train["item_id"].tolist()) == [1, 2, 2, 3]  # positives only
    assert small.meta["negatives_from"] == "original"


def test_random_text_params_fail_early():
    with pytest.raises(ConfigError, match="text_tokens"):
        RandomTextParams(text_tokens=0)
    with pytest.raises(ConfigError, match="text"):
        RandomTextParams(text="shuffled")
