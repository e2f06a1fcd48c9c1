"""A submitted condensed set against its original dataset.

Rules (docs/submitting.md explains them to submitters):

- ids: every item id in train, histories and items is an item of the original; rewritten
  item text (``items``) covers every original item (its text fields may differ from the
  original's, e.g. one LLM summary instead of title + abstract);
- labels are 0 or 1 and the train set holds at least one positive;
- no dev/test leakage: a train row may not equal a (user, item) pair of the original dev or
  test split, and a train user is either a train user of the original or a new (synthetic)
  id that the original never uses; an original dev/test-only user is refused;
- histories are fixed: a submitted history for a user of the original must equal the
  original one (the user encoder of dev/test users reads them); a new user needs one;
- budget: at most `budget` train users (or that percentage of the original's train users).

The result is the Dataset that gets evaluated: the original with its train split (and
items, and the histories of new users) replaced; dev and test stay the original ones.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from harness.dataset import Dataset
from harness.errors import DataError
from leaderboard.submission.condensed import CondensedTables
from leaderboard.submission.rejection import SubmissionRejected


def _first_row(mask: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _check_train(tables: CondensedTables, original: Dataset, known_items: set[int]) -> None:
    train, label = tables.train, f"{tables.source}:train"
    if train.empty:
        raise SubmissionRejected("the train set is empty", file=label)
    bad_label = ~train["label"].isin((0, 1))
    if bad_label.any():
        raise SubmissionRejected(
            "label must be 0 or 1", file=label, where=f"row {_first_row(bad_label)}"
        )
    if not (train["label"] == 1).any():
        raise SubmissionRejected("the train set has no positive (label 1) row", file=label)
    unknown = ~train["item_id"].isin(known_items)
    if unknown.any():
        row = _first_row(unknown)
        raise SubmissionRejected(
            f"unknown item id {int(train['item_id'].iloc[row])}", file=label, where=f"row {row}"
        )


def _check_leakage(tables: CondensedTables, original: Dataset) -> None:
    train, label = tables.train, f"{tables.source}:train"
    inter = original.interactions
    original_train_users = set(inter.loc[inter["split"] == "train", "user_id"].tolist())
    held_out = inter[inter["split"] != "train"]
    held_out_users = set(held_out["user_id"].tolist())
    dev_test_only = ~train["user_id"].isin(original_train_users) & train["user_id"].isin(
        held_out_users
    )
    if dev_test_only.any():
        row = _first_row(dev_test_only)
        raise SubmissionRejected(
            f"user {int(train['user_id'].iloc[row])} is a dev/test user of the original, not a train user",
            file=label,
            where=f"row {row}",
        )
    pairs = pd.MultiIndex.from_frame(held_out[["user_id", "item_id"]])
    leaked = pd.MultiIndex.from_frame(train[["user_id", "item_id"]]).isin(pairs)
    if leaked.any():
        row = _first_row(leaked)
        user, item = int(train["user_id"].iloc[row]), int(train["item_id"].iloc[row])
        raise SubmissionRejected(
            f"train row (user {user}, item {item}) is a dev/test interaction of the original",
            file=label,
            where=f"row {row}",
        )


def _new_histories(
    tables: CondensedTables, original: Dataset, known_items: set[int]
) -> pd.DataFrame | None:
    """The histories of new users; a history of an original user must be unchanged."""
    train = tables.train
    original_history = original.history_of()
    needed = set(train["user_id"].tolist()) - set(original_history)
    if tables.histories is None:
        if needed:
            user = min(needed)
            raise SubmissionRejected(
                f"user {user} is new and needs a history (histories table missing)",
                file=tables.source,
            )
        return None
    label = f"{tables.source}:histories"
    histories = tables.histories
    if histories["user_id"].duplicated().any():
        row = _first_row(histories["user_id"].duplicated())
        raise SubmissionRejected(
            f"user {int(histories['user_id'].iloc[row])} has two histories",
            file=label,
            where=f"row {row}",
        )
    for row, (user, history) in enumerate(
        zip(histories["user_id"].tolist(), histories["history"].tolist(), strict=True)
    ):
        unknown = [i for i in history if i not in known_items]
        if unknown:
            raise SubmissionRejected(
                f"unknown item id {unknown[0]} in the history of user {user}",
                file=label,
                where=f"row {row}",
            )
        if user in original_history and list(original_history[user]) != list(history):
            raise SubmissionRejected(
                f"the history of user {user} differs from the original (histories of original users are fixed)",
                file=label,
                where=f"row {row}",
            )
    given = set(histories["user_id"].tolist())
    missing = needed - given
    if missing:
        raise SubmissionRejected(f"user {min(missing)} is new and has no history", file=label)
    new = histories[~histories["user_id"].isin(set(original_history))]
    return new.reset_index(drop=True) if len(new) else None


def _checked_items(
    tables: CondensedTables, original: Dataset, known_items: set[int]
) -> pd.DataFrame | None:
    if tables.items is None:
        return None
    label = f"{tables.source}:items"
    if not tables.text_fields:
        raise SubmissionRejected("items need at least one text field column", file=label)
    items = tables.items
    unknown = ~items["item_id"].isin(known_items)
    if unknown.any():
        row = _first_row(unknown)
        raise SubmissionRejected(
            f"unknown item id {int(items['item_id'].iloc[row])}", file=label, where=f"row {row}"
        )
    if items["item_id"].duplicated().any():
        row = _first_row(items["item_id"].duplicated())
        raise SubmissionRejected(
            f"item id {int(items['item_id'].iloc[row])} appears twice",
            file=label,
            where=f"row {row}",
        )
    missing = known_items - set(items["item_id"].tolist())
    if missing:
        raise SubmissionRejected(
            f"item {min(missing)} has no text (rewritten items must cover every item)", file=label
        )
    return items[["item_id", *tables.text_fields]].reset_index(drop=True)


def budget_users(budget: str, original: Dataset) -> int:
    """The most train users a set at `budget` may hold."""
    if budget.endswith("%"):
        train_users = original.split("train")["user_id"].nunique()
        return math.ceil(float(budget[:-1]) / 100 * train_users)
    return int(budget)


def _check_budget(tables: CondensedTables, original: Dataset, budget: str) -> None:
    users = tables.train["user_id"].nunique()
    allowed = budget_users(budget, original)
    if users > allowed:
        raise SubmissionRejected(
            f"the train set has {users} users, over the budget of {allowed} ({budget})",
            file=f"{tables.source}:train",
        )


def _negatives_meta(tables: CondensedTables) -> dict:
    """A positives-only set draws its negatives from the original train split, as our own
    condensers' sets do; a set with its own label-0 rows uses them."""
    return {} if (tables.train["label"] == 0).any() else {"negatives_from": "original"}


def check_condensed(
    tables: CondensedTables, original: Dataset, *, budget: str, method: str
) -> Dataset:
    """Run every rule; return the dataset to evaluate (original dev/test, submitted train)."""
    known_items = set(original.items["item_id"].tolist())
    _check_train(tables, original, known_items)
    _check_leakage(tables, original)
    histories = _new_histories(tables, original, known_items)
    items = _checked_items(tables, original, known_items)
    _check_budget(tables, original, budget)
    condensed = original.with_train(
        tables.train,
        variant=f"submission:{method}",
        items=items,
        histories=histories,
        meta={"submission": method, **_negatives_meta(tables)},
    )
    if items is not None:
        condensed = dataclasses.replace(condensed, text_fields=tuple(tables.text_fields))
    try:
        condensed.validate(source=tables.source)
    except DataError as exc:
        raise SubmissionRejected(str(exc)) from None
    return condensed
