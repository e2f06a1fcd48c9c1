"""The contract of every condenser in the registry (`condensers.registry.available()`).

A new method (built-in or an installed entry point) is tested here without new test code:
1. the budget is kept: the condensed train holds at most the budget's users (sequential
   data: at most that many sequences, or at most that many sequences' worth of
   interaction-equivalents, k x L with L = 50, the learners' length: `temporal` keeps the
   last k x L interactions of many users), or the condenser does not use the budget at all
   (its set is the one it gives at budget ``all``: Original, the content-only ablation, the
   release's fixed sets);
2. dev and test are the original's, untouched;
3. the same seed gives the same set (train, items, histories, text fields);
4. its output is a valid dataset and, for content data, passes submission validation
   against the original (the checks a submitted condensed set meets: ids, leakage, fixed
   histories, item text, budget). Sequential sets skip the submission checks: those rules
   are the content track's (see `SUBMISSION_KINDS`).

Each condenser runs once per kind of data it declares (`Condenser.data_kinds`), on that
kind's tiny dataset (`TINY`: content `factories.tiny_dataset`, sequential
`factories.tiny_sequential_dataset`), with an offline context (`factories.tiny_context`: a
fake LLM backend behind the real client, hashed embeddings, hashed sequence-expert
representations, one small SASRec expert shared by the methods that read its weights) and
each method's `Condenser.smoke_options` (its smallest profile). The ``release-*`` entries return the TF-DCon release's own sets, so they
run on movielens-tfdcon from the data mirror (fast: no training, no LLM).
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import (
    condensed_tables,
    hashed_user_embeddings,
    tiny_context,
    tiny_dataset,
    tiny_sequential_dataset,
)

from condensers.base import Budget
from condensers.registry import available, get
from condensers.sequence_sets import DEFAULT_LENGTH
from harness.dataset import normalise_interactions
from harness.sequences import SEQUENTIAL_KIND, interaction_equivalents, sequence_count
from leaderboard.submission.checks import check_condensed

CONTENT = "content"
RELEASE_DATASET = "movielens-tfdcon"
RELEASE_BUDGET = "47"  # the release's sets hold 47 (or 46) users
# each kind of data: its tiny original, and budgets that fit it (a count and a share)
TINY = {
    CONTENT: (tiny_dataset, ("8", "30%")),  # 24 users: 8, and 30% of 24 = 7
    SEQUENTIAL_KIND: (tiny_sequential_dataset, ("6", "25%")),  # 40 users: 6, and 25% = 10
}
# the kinds whose sets `leaderboard.submission.checks` is written for; its rules are the
# content track's: a train (user, item) pair may not be a dev/test pair (a sequential user
# may meet an item again: tiny_sequential_dataset's own train set breaks that rule), and its
# budget counts users (a sequential budget counts sequences or interaction-equivalents)
SUBMISSION_KINDS = (CONTENT,)


def _within_budget(condensed, allowed: int, kind: str) -> bool:
    """Content: at most `allowed` train users. Sequential: at most `allowed` sequences, or at
    most `allowed` x L interaction-equivalents (L = 50: what k sequences of the track hold)."""
    if kind == SEQUENTIAL_KIND:
        return (
            sequence_count(condensed) <= allowed
            or interaction_equivalents(condensed) <= allowed * DEFAULT_LENGTH
        )
    return _train_users(condensed) <= allowed


def _needs_release(name: str) -> bool:
    """An entry that returns a released set (a data-layer variant) needs a release dataset."""
    return hasattr(get(name), "release_variant")


@pytest.fixture(scope="module")
def tiny_originals():
    """Each kind's tiny original, built once."""
    return {kind: make() for kind, (make, _) in TINY.items()}


@pytest.fixture(scope="module")
def tiny_expert(tmp_path_factory):
    """A small SASRec expert of the tiny sequential original (6 epochs), cached on disk."""
    from condensers.sequence_expert import SequenceExpert
    from recommenders.sequence_settings import SequentialTrainSettings

    settings = SequentialTrainSettings(max_epochs=6, patience=2, threads=1, device="cpu")
    return SequenceExpert(tmp_path_factory.mktemp("expert"), settings=settings, progress=False)


@pytest.fixture(scope="module")
def release_original(mirror, session_cache):
    from harness.data import load_dataset

    return load_dataset(RELEASE_DATASET, mirror=mirror, cache=session_cache)


class Case:
    """How to run one condenser on one kind of data: its original dataset, a context factory,
    its budgets."""

    def __init__(self, name: str, kind: str, request, tmp_path_factory):
        self.name = name
        self.kind = kind
        self.release = _needs_release(name)
        if self.release:
            self.original = request.getfixturevalue("release_original")
            self.mirror = request.getfixturevalue("mirror")
            self.cache = request.getfixturevalue("session_cache")
            self.budgets = (RELEASE_BUDGET,)
        else:
            self.original = request.getfixturevalue("tiny_originals")[kind]
            self.mirror = None
            self.cache = None
            self.budgets = TINY[kind][1]
        # a method that reads an expert's weights (TD3's loop) shares one, trained once
        self.expert = request.getfixturevalue("tiny_expert") if kind == SEQUENTIAL_KIND else None
        self._tmp = tmp_path_factory

    def condense(self, budget: str, seed: int = 0):
        cache = self.cache or self._tmp.mktemp(f"{self.name}-cache")
        ctx = tiny_context(
            cache,
            mirror=self.mirror,
            sequence_representation_provider=hashed_user_embeddings,
            expert=self.expert,
        )
        condenser = get(self.name).from_options(get(self.name).smoke_options)
        return condenser.condense(
            self.original, Budget.parse(budget), np.random.default_rng(seed), ctx
        )


# one case per (condenser, kind of data it declares); no per-method code
CASES = [
    pytest.param((name, kind), id=name if kind == CONTENT else f"{name}-{kind}")
    for name in available()
    for kind in TINY
    if get(name).takes(kind)
]


@pytest.fixture(params=CASES)
def case(request, tmp_path_factory) -> Case:
    name, kind = request.param
    return Case(name, kind, request, tmp_path_factory)


def _train_users(dataset) -> int:
    return int(dataset.split("train")["user_id"].nunique())


def test_budget_is_kept_or_not_used(case):
    everything = case.condense("all")
    for budget in case.budgets:
        condensed = case.condense(budget)
        _, allowed = Budget.parse(budget).resolve_for(case.original)
        if not _within_budget(condensed, allowed, case.kind):
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
    if case.kind not in SUBMISSION_KINDS:
        pytest.skip(f"the submission checks are the content track's rules, not {case.kind}'s")
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
