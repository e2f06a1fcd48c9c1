"""Submission checks shared with the condensers: one budget rounding, budgets above 100%,
test leakage under fresh user ids, reserved method names and their look-alikes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from leaderboard_factory import small_dataset

from condensers.context import CondenseContext
from condensers.registry import available, make
from harness.budget import Budget
from harness.cli import main
from harness.dataset import Dataset, normalise_interactions
from harness.reference import REFERENCE_SCORERS
from leaderboard.record import TUNED_SUFFIX
from leaderboard.submission import SubmissionRejected, validate_submission
from leaderboard.submission.checks import (
    FRESH_USER_HISTORY_MATCH,
    FRESH_USER_LEAK_OF_OWN,
    FRESH_USER_LEAK_OVERLAP,
    budget_users,
    check_condensed,
)
from leaderboard.submission.condensed import CondensedTables
from leaderboard.submission.names import check_method_name, reserved_method_names

MANIFEST = {
    "method": "my-condenser",
    "version": "1.0",
    "authors": ["A. Author"],
    "paper_url": "https://example.org/paper",
    "params": {},
    "dataset": "tiny",
    "budget": 2,
    "condensed_set": "condensed",
}


def _tables(train_rows, histories=None) -> CondensedTables:
    train = pd.DataFrame(train_rows, columns=["user_id", "item_id", "label"])
    hist = None
    if histories is not None:
        hist = pd.DataFrame(
            {"user_id": [u for u, _ in histories], "history": [list(h) for u, h in histories]}
        )
    return CondensedTables(train=train, histories=hist, items=None, text_fields=None, source="x")


def _entry(tmp_path, manifest) -> Path:
    root = tmp_path / "entry"
    (root / "condensed").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    rows = ["user_id\titem_id\tlabel", "0\t0\t1", "1\t2\t1"]
    (root / "condensed" / "train.tsv").write_text("\n".join(rows) + "\n")
    return root


def _validate(root):
    return validate_submission(root, load_original_dataset=lambda name: small_dataset())


# ---- one budget rounding rule -----------------------------------------------------------


def _users_939() -> Dataset:
    """939 train users (MovieLens' count), each with two train positives and a negative."""
    users = np.arange(939)
    rows = [("train", int(u), int(u % 50), 1) for u in users]
    rows += [("train", int(u), int((u + 1) % 50), 1) for u in users]
    rows += [("train", int(u), int((u + 2) % 50), 0) for u in users]
    rows += [("test", 0, 10, 1), ("test", 0, 11, 0)]
    frame = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label"])
    frame["group_id"] = frame["user_id"]
    return Dataset(
        name="users939",
        items=pd.DataFrame(
            {"item_id": range(50), "title": [[100 + i, 200 + i] for i in range(50)]}
        ),
        text_fields=("title",),
        histories=pd.DataFrame({"user_id": users, "history": [[int(u % 50)] for u in users]}),
        interactions=normalise_interactions(frame),
        meta={"name": "users939"},
    )


@pytest.fixture(scope="module")
def users_939() -> Dataset:
    return _users_939()


@pytest.mark.parametrize("share", ["0.5%", "1%", "2.5%", "5%", "10%", "33%", "50%"])
def test_random_keeps_exactly_the_most_users_the_checks_accept(users_939, share):
    random = make("random", {"text_tokens": 2})
    condensed = random.condense(
        users_939, Budget.parse(share), np.random.default_rng(0), CondenseContext(progress=False)
    )
    kept = condensed.split("train")["user_id"].nunique()
    assert kept == budget_users(share, users_939)  # one rule: round to nearest
    train = condensed.split("train")[["user_id", "item_id", "label"]]
    check_condensed(_tables(train), users_939, budget=share, method="m")  # Random's set passes
    other = sorted(set(range(939)) - set(train["user_id"].tolist()))[0]
    over = pd.concat([train, pd.DataFrame([(other, other % 50, 1)], columns=train.columns)])
    with pytest.raises(SubmissionRejected, match=f"{kept + 1} users, over the budget of {kept}"):
        check_condensed(_tables(over), users_939, budget=share, method="m")


def test_one_percent_of_939_is_9_users_in_condensers_and_checks(users_939):
    assert Budget.parse("1%").resolve_for(users_939)[1] == 9
    assert budget_users("1%", users_939) == 9  # checks rounded up to 10 before


def test_budget_above_the_originals_users_is_refused(users_939, tmp_path):
    train = [(0, 0, 1)]
    with pytest.raises(SubmissionRejected, match="above the original's 939 train users"):
        check_condensed(_tables(train), users_939, budget="940", method="m")
    for budget in ("150%", "100.1%"):
        with pytest.raises(SubmissionRejected, match=r"'budget'.*at most 100%"):
            _validate(_entry(tmp_path / budget, dict(MANIFEST, budget=budget)))
    with pytest.raises(SubmissionRejected, match="'budget'"):
        _validate(_entry(tmp_path / "zero", dict(MANIFEST, budget=0)))


# ---- test leakage under fresh user ids (small_dataset: users 0-3 train; dev users 0 and 4,
# test users 1 and 5; user u's history is [u, u + 1]; held-out positives: 0 -> 5, 4 -> 7,
# 1 -> 9, 5 -> 3) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "histories", "target"),
    [
        ([(100, 9, 1)], [(100, [1, 2])], 1),  # test user 1: its history and its test positive
        ([(100, 7, 1)], [(100, [4, 5])], 4),  # dev-only user 4, as a fresh id
        ([(100, 3, 1), (100, 7, 1)], [(100, [5, 6, 0])], 5),  # history padded: still user 5
        ([(0, 0, 1), (100, 1, 1), (100, 2, 1), (100, 9, 1)], [(100, [1, 2])], 1),  # + train
    ],
)
def test_test_leak_under_a_fresh_user_id_is_refused(rows, histories, target):
    with pytest.raises(SubmissionRejected, match=f"history of dev/test user {target}") as info:
        check_condensed(_tables(rows, histories), small_dataset(), budget="4", method="m")
    assert "over the 50% allowed" in str(info.value)


def test_leak_thresholds_are_the_documented_ones():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "submitting.md").read_text()
    for value in (FRESH_USER_HISTORY_MATCH, FRESH_USER_LEAK_OVERLAP, FRESH_USER_LEAK_OF_OWN):
        assert f"{value:.0%}" in docs


@pytest.mark.parametrize(
    ("rows", "histories"),
    [
        # a train user under a fresh id: its own history and train positives
        ([(100, 0, 1), (100, 1, 1)], [(100, [0, 1])]),
        # TF-DCon-like: one synthetic user merging train users 0, 2 and 3 (their positives),
        # with the first member's history
        ([(100, i, 1) for i in (0, 1, 2, 3, 4)], [(100, [0, 1])]),
        # a merged user with the merged histories
        ([(100, i, 1) for i in (1, 2, 3, 4)], [(100, [1, 2, 2, 3, 3, 4])]),
        # a test user's history but none of its held-out positives
        ([(100, 1, 1), (100, 2, 1)], [(100, [1, 2])]),
    ],
)
def test_legitimate_fresh_users_pass(rows, histories):
    check_condensed(_tables(rows, histories), small_dataset(), budget="4", method="m")


def test_movielens_fresh_ids_random_and_merged_pass_copies_of_test_users_do_not(
    mirror, session_cache, monkeypatch
):
    from harness.data import load_dataset

    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    monkeypatch.setenv("CONDBENCH_CACHE", str(session_cache))
    original = load_dataset("movielens-tfdcon")
    inter = original.interactions
    positives = inter[(inter["split"] == "train") & (inter["label"] == 1)]
    own = positives.groupby("user_id")["item_id"].apply(list)
    held = inter[(inter["split"] != "train") & (inter["label"] == 1)]
    held_out = held.groupby("user_id")["item_id"].apply(list)
    history = original.history_of()
    rng = np.random.default_rng(0)

    def fresh(groups, histories):
        rows = [(10**6 + k, i, 1) for k, items in enumerate(groups) for i in sorted(set(items))]
        return _tables(rows, [(10**6 + k, h) for k, h in enumerate(histories)])

    for merge in (1, 3):  # Random's users, and TF-DCon-like merges of 3, under fresh ids
        chosen = rng.permutation(own.index.to_numpy())[: 47 * merge].reshape(47, merge)
        groups = [[i for u in members for i in own[u]] for members in chosen]
        tables = fresh(groups, [history[members[0]] for members in chosen])
        check_condensed(tables, original, budget="47", method="m")
    victims = [u for u in held_out.index if history.get(u)][:47]
    copies = fresh([held_out[u] for u in victims], [history[u][:-1] for u in victims])
    with pytest.raises(SubmissionRejected, match="test leakage under a fresh user id"):
        check_condensed(copies, original, budget="47", method="m")


# ---- method names -----------------------------------------------------------------------


def _look_alikes(name: str) -> list[str]:
    cyrillic = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441"}
    letter = next((c for c in name if c in cyrillic), None)  # "td3" has none
    slash = name.replace("-", "/") if "-" in name else f"{name[:2]}/{name[2:]}"
    homoglyph = [name.replace(letter, cyrillic[letter], 1)] if letter else []
    return [
        *homoglyph,
        name,
        name.upper(),
        name.capitalize(),
        f"{name} ",
        f" {name}",
        f"{name[:2]}\u200b{name[2:]}",  # zero-width space inside
        f"{name}\u00ad",  # soft hyphen
        f"{name}\t",
        slash,
        name.replace("-", "_"),
        chr(ord(name[0]) + 0xFEE0) + name[1:],  # a full-width first letter (NFKC: the same)
    ]


def _reserved() -> list[str]:
    names = set(available()) | set(REFERENCE_SCORERS) | {n + TUNED_SUFFIX for n in available()}
    assert names == reserved_method_names()  # derived from the registries, nothing else
    assert {"tfdcon-user", "tfdcon-content", "release-tfdcon", "tfdcon-tuned"} <= names
    assert {"chance", "popularity"} <= names
    return sorted(names)


@pytest.mark.parametrize("name", _reserved())
def test_reserved_names_and_their_look_alikes_are_refused(name):
    for variant in _look_alikes(name):
        with pytest.raises(SubmissionRejected):
            check_method_name(variant)


@pytest.mark.parametrize("name", ["tfdcon-user", "release-tfdcon", "tfdcon-tuned", "popularity"])
def test_manifest_refuses_reserved_names_and_look_alikes(tmp_path, name):
    for k, variant in enumerate(_look_alikes(name)):
        with pytest.raises(SubmissionRejected, match="manifest.json: field 'method'"):
            _validate(_entry(tmp_path / str(k), dict(MANIFEST, method=variant)))


def test_cli_refuses_a_reserved_name_with_exit_1(tmp_path, monkeypatch):
    monkeypatch.setattr("leaderboard.submission.pipeline.load_original", lambda n: small_dataset())
    root = _entry(tmp_path, dict(MANIFEST, method="tfdcon-tuned"))
    result = CliRunner().invoke(main, ["submit", str(root), "--validate-only"])
    assert result.exit_code == 1
    assert "built-in method name" in result.output


@pytest.mark.parametrize(
    "name", ["my/condenser", "my condenser", "../up", ".hidden", "mé", "a\x00b", "x\u202eb", ""]
)
def test_names_that_are_not_their_own_record_folder_are_refused(name):
    with pytest.raises(SubmissionRejected):
        check_method_name(name)


def test_names_colliding_with_taken_entries_or_grid_labels_are_refused():
    taken = {"tfdcon-local-llm", "tfdcon_x"}
    for name in ("tfdcon-local-llm", "TFDCON_local.llm", "tfdcon-x", "tfdcon.x"):
        with pytest.raises(SubmissionRejected, match="another entry"):
            check_method_name(name, taken=taken)


@pytest.mark.parametrize("name", ["my-condenser", "TinyDCon", "random-walk-v2", "tfdcon2.1"])
def test_fresh_names_pass(name, tmp_path):
    assert check_method_name(name) == name
    assert _validate(_entry(tmp_path, dict(MANIFEST, method=name))).manifest.method == name
