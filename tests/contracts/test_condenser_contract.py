"""The contract of every condenser in the registry (`condensers.registry.available()`).

A new method (built-in or an installed entry point) is tested here without new test code:
1. the budget is kept: the condensed train holds at most the budget's users, or the
   condenser does not use the budget at all (its set is the one it gives at budget ``all``:
   Original, the content-only ablation, the release's fixed sets);
2. dev and test are the original's, untouched;
3. the same seed gives the same set (train, items, histories, text fields);
4. its output passes submission validation against the original (the checks a submitted
   condensed set meets: ids, leakage, fixed histories, item text, budget).

Methods run on `factories.tiny_dataset` with an offline context (`factories.tiny_context`: a
fake LLM backend behind the real client, hashed embeddings). The ``release-*`` entries return
the TF-DCon release's own sets, so they run on movielens-tfdcon from the data mirror (fast:
no training, no LLM).
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import condensed_tables, tiny_context, tiny_dataset

from condensers.base import Budget
from condensers.registry import available, get
from harness.dataset import normalise_interactions
from leaderboard.submission.checks import check_condensed

RELEASE_DATASET = "movielens-tfdcon"
RELEASE_BUDGET = "47"  # the release's sets hold 47 (or 46) users
TINY_BUDGETS = ("8", "30%")  # a count, and a share (30% of 24 users: 7)


def _needs_release(name: str) -> bool:
    """An entry that returns a released set (a data-layer variant) needs a release dataset."""
    return hasattr(get(name), "release_variant")


@pytest.fixture(scope="module")
def tiny():
    return tiny_dataset()


@pytest.fixture(scope="module")
def release_original(mirror, session_cache):
    from harness.data import load_dataset

    return load_dataset(RELEASE_DATASET, mirror=mirror, cache=session_cache)


class Case:
    """How to run one condenser: its original dataset, a context factory, its budgets."""

    def __init__(self, name: str, request, tmp_path_factory):
        self.name = name
        self.release = _needs_release(name)
        if self.release:
            self.original = request.getfixturevalue("release_original")
            self.mirror = request.getfixturevalue("mirror")
            self.cache = request.getfixturevalue("session_cache")
            self.budgets = (RELEASE_BUDGET,)
        else:
            self.original = request.getfixturevalue("tiny")
            self.mirror = None
            self.cache = None
            self.budgets = TINY_BUDGETS
        self._tmp = tmp_path_factory

    def condense(self, budget: str, seed: int = 0):
        cache = self.cache or self._tmp.mktemp(f"{self.name}-cache")
        ctx = tiny_context(cache, mirror=self.mirror)
        condenser = get(self.name).from_options({})
        return condenser.condense(
            self.original, Budget.parse(budget), np.random.default_rng(seed), ctx
        )


@pytest.fixture(params=available())
def case(request, tmp_path_factory) -> Case:
    return Case(request.param, request, tmp_path_factory)


def _train_users(dataset) -> int:
    return int(dataset.split("train")["user_id"].nunique())


def test_budget_is_kept_or_not_used(case):
    everything = case.condense("all")
    for budget in case.budgets:
        condensed = case.condense(budget)
        _, allowed = Budget.parse(budget).resolve_for(case.original)
        if _train_users(condensed) > allowed:
            # over the budget: only a condenser that ignores the budget may be
            assert condensed.fingerprint() == everything.fingerprint(), (
                f"{case.name} at budget {budget}: {_train_users(condensed)} train users, "
                f"over the {allowed} allowed, and not its budget-free set"
            )


def test_dev_and_test_are_the_originals(case):
    condensed = case.condense(case.budgets[0])
    for split in ("dev", "test"):  # values and order; dtypes as every Dataset normalises them
        original = normalise_interactions(case.original.split(split))
        assert condensed.split(split).equals(original), split


def test_same_seed_gives_the_same_set(case):
    first = case.condense(case.budgets[0], seed=3)
    second = case.condense(case.budgets[0], seed=3)
    assert first.fingerprint() == second.fingerprint()
    assert first.text_fields == second.text_fields


def test_output_passes_submission_validation(case):
    budget = case.budgets[0]
    condensed = case.condense(budget)
    condensed.validate()
    if _train_users(condensed) > Budget.parse(budget).resolve_for(case.original)[1]:
        budget = "all"  # a budget-free condenser (test above) is submitted at budget all
    checked = check_condensed(
        condensed_tables(condensed, f"contract:{case.name}"),
        case.original,
        budget=budget,
        method=f"contract-{case.name}",
    )
    assert checked.split("train")[["user_id", "item_id", "label"]].equals(
        condensed.split("train")[["user_id", "item_id", "label"]]
    )
