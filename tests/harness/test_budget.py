"""The one Budget (harness.budget): parsing every form, one label, one rounding rule, refusals."""

from __future__ import annotations

import pytest

from harness.budget import ALL_USERS, Budget, share_users
from harness.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "expected", "label"),
    [
        ("all", Budget(everyone=True), "all"),
        (" ALL ", Budget(everyone=True), "all"),
        (47, Budget(users=47), "47"),
        ("047", Budget(users=47), "47"),
        (47.0, Budget(users=47), "47"),
        ("5%", Budget(share=0.05), "5%"),
        ("0.05", Budget(share=0.05), "5%"),
        (0.05, Budget(share=0.05), "5%"),
        ("2.5%", Budget(share=0.025), "2.5%"),
        ("7%", Budget(share=0.07), "7%"),  # 0.07 * 100 is 7.000000000000001
        ("100%", Budget(share=1.0), "100%"),
    ],
)
def test_parse_and_label(value, expected, label):
    budget = Budget.parse(value)
    assert budget == expected
    assert budget.label == str(budget) == label
    assert Budget.parse(budget.label) == budget  # the label reads back as the same budget


def test_all_is_every_user():
    everyone = Budget.parse(ALL_USERS)
    assert everyone.share == 1.0
    assert everyone.resolve(883, all_users=939) == 883  # every user with a positive
    assert everyone.limit(939) == 939


@pytest.mark.parametrize("bad", ["many", "-3", "0", "0%", "150%", "100.5%", 1.5, 0, True, None])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(ConfigError, match="budget"):
        Budget.parse(bad)


def test_share_above_100_percent_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"at most 100%"):
        Budget.parse("101%")


def test_count_above_the_users_is_refused():
    with pytest.raises(ConfigError, match="only 10"):
        Budget(users=11).resolve(10)
    with pytest.raises(ConfigError, match="above the original's 939 train users"):
        Budget(users=940).limit(939)
    assert Budget(users=939).limit(939) == 939


@pytest.mark.parametrize(
    ("share", "users"),
    [(0.01, 9), (0.05, 47), (0.1, 94), (0.5, 470), (0.001, 1), (0.0001, 1), (1.0, 939)],
)
def test_one_rounding_rule_round_to_nearest(share, users):
    # 1% of 939 is 9.39: 9 users (the rule the release's sizes follow: 5% -> 47), never 10
    assert share_users(share, 939) == users
    assert Budget(share=share).resolve(939) == users
    assert Budget(share=share).limit(939) == users


def test_share_counts_all_train_users_but_never_asks_for_more_than_the_population():
    assert Budget.parse("5%").resolve(100, all_users=939) == 47
    assert Budget.parse("50%").resolve(100, all_users=939) == 100


def test_canonical_label_makes_equal_budgets_one_label():
    from harness.budget import canonical_label

    for written, label in [("00047", "47"), (" 47", "47"), ("47.0", "47"), ("5.0%", "5%"),
                           ("05%", "5%"), ("0.05", "5%"), ("ALL", "all"), ("all", "all")]:  # fmt: skip
        assert canonical_label(written) == label, written
    assert canonical_label(" not a budget ") == "not a budget"
