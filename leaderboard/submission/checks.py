"""A submitted condensed set against its original dataset.

Rules (docs/submitting.md explains them to submitters):

- ids: every item id in train, histories and items is an item of the original; rewritten
  item text (``items``) covers every original item (its text fields may differ from the
  original's, e.g. one LLM summary instead of title + abstract) and its token ids are
  integers of the original's vocabulary (`harness.text.vocabulary_size`: 0 to 30,521);
- labels are 0 or 1 and the train set holds at least one positive;
- no dev/test leakage: a train row may not equal a (user, item) pair of the original dev or
  test split, and a train user is either a train user of the original or a new (synthetic)
  id that the original never uses; an original dev/test-only user is refused; a new user whose
  history holds >= 60% of a dev/test user's history items may not have train positives that
  cover > 50% of that user's held-out positives and are > 20% of its own positives (unless an
  original train user with such a history already covers as many): `FRESH_USER_*` below;
- histories are fixed: a submitted history for a user of the original must equal the
  original one (the user encoder of dev/test users reads them); a new user needs one;
- budget: at most `budget` train users (or that share of the original's train users, rounded
  by `harness.budget.share_users` as the condensers round); a budget above the original's
  train users (a larger count, a share above 100%) is refused.

The result is the Dataset that gets evaluated: the original with its train split (and
items, and the histories of new users) replaced; dev and test stay the original ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from harness.budget import Budget
from harness.dataset import Dataset
from harness.errors import ConfigError, DataError
from harness.text import vocabulary_size
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


# A new (synthetic) user id "stands for" a dev/test user when its history holds at least
# FRESH_USER_HISTORY_MATCH of that user's history items. It reproduces that user's held-out
# (dev + test) positives when its train positives cover more than FRESH_USER_LEAK_OVERLAP of
# them AND those make up more than FRESH_USER_LEAK_OF_OWN of its own positives (a user merged
# from several train users holds many other positives), and more of them than any original
# train user with such a history covers (that much is in the original train set already).
# docs/submitting.md states the numbers; tuned on MovieLens: random and merged fresh-id sets
# pass, copies of test users (exact, history cut by 2 of 5 items, padded with their own train
# positives) are refused.
FRESH_USER_HISTORY_MATCH = 0.6
FRESH_USER_LEAK_OVERLAP = 0.5
FRESH_USER_LEAK_OF_OWN = 0.2


def _item_rows(users: pd.Series, lists: pd.Series) -> pd.DataFrame:
    """(user_id, item_id) rows, one per distinct item of each user's list."""
    rows = pd.DataFrame({"user_id": users.to_numpy(), "item_id": lists.to_numpy()})
    rows = rows.explode("item_id").dropna()
    return rows.astype({"item_id": np.int64}).drop_duplicates(ignore_index=True)


def _history_matches(users_history: pd.DataFrame, target_history: pd.DataFrame) -> pd.DataFrame:
    """Pairs (user_id, target) where the user's history holds >= FRESH_USER_HISTORY_MATCH of
    the target's history items."""
    target = target_history.rename(columns={"user_id": "target"})
    size = target.groupby("target").size().rename("size")
    shared = users_history.merge(target, on="item_id").groupby(["user_id", "target"]).size()
    shared = shared.rename("shared").reset_index().join(size, on="target")
    enough = shared["shared"] >= FRESH_USER_HISTORY_MATCH * shared["size"] - 1e-9
    return shared.loc[enough, ["user_id", "target"]]


def _coverage(pairs: pd.DataFrame, positives: pd.DataFrame, held_out: pd.DataFrame) -> pd.DataFrame:
    """For each (user_id, target): how many of target's held-out positives are user's positives."""
    hits = pairs.merge(positives, on="user_id").merge(
        held_out.rename(columns={"user_id": "target"}), on=["target", "item_id"]
    )
    return hits.groupby(["user_id", "target"]).size().rename("hits").reset_index()


def _check_fresh_user_leakage(
    tables: CondensedTables, original: Dataset, new_histories: pd.DataFrame | None
) -> None:
    """Refuse a new user whose history stands for a dev/test user and whose train positives
    reproduce that user's held-out positives (the pair check above sees only original ids)."""
    if new_histories is None or new_histories.empty:
        return
    inter = original.interactions
    held_out = inter.loc[inter["split"] != "train"]
    held_out = held_out.loc[held_out["label"] == 1, ["user_id", "item_id"]]
    held_out = held_out.drop_duplicates(ignore_index=True)
    held_size = held_out.groupby("user_id").size()
    hist = original.histories
    hist = hist[hist["user_id"].isin(held_size.index)]
    target_history = _item_rows(hist["user_id"], hist["history"])
    new_history = _item_rows(new_histories["user_id"], new_histories["history"])
    train = tables.train
    new_positives = train.loc[
        (train["label"] == 1) & train["user_id"].isin(set(new_histories["user_id"].tolist())),
        ["user_id", "item_id"],
    ].drop_duplicates(ignore_index=True)
    found = _coverage(_history_matches(new_history, target_history), new_positives, held_out)
    found["share"] = found["hits"] / held_size.loc[found["target"]].to_numpy()
    own = new_positives.groupby("user_id").size()
    found["of_own"] = found["hits"] / own.loc[found["user_id"]].to_numpy()
    found = found[
        (found["share"] > FRESH_USER_LEAK_OVERLAP) & (found["of_own"] > FRESH_USER_LEAK_OF_OWN)
    ]
    if found.empty:
        return
    # what the original train set already shows: its train users with a matching history
    targets = set(found["target"].tolist())
    train_rows = inter[(inter["split"] == "train") & (inter["label"] == 1)]
    original_positives = train_rows[["user_id", "item_id"]].drop_duplicates(ignore_index=True)
    original_history = _item_rows(original.histories["user_id"], original.histories["history"])
    original_history = original_history[
        original_history["user_id"].isin(set(original_positives["user_id"].tolist()))
    ]
    pairs = _history_matches(
        original_history, target_history[target_history["user_id"].isin(targets)]
    )
    pairs = pairs[pairs["user_id"] != pairs["target"]]
    baseline = _coverage(pairs, original_positives, held_out).groupby("target")["hits"].max()
    found = found[found["hits"] > baseline.reindex(found["target"]).fillna(0).to_numpy()]
    if found.empty:
        return
    first = found.sort_values(["user_id", "target"]).iloc[0]
    user, target, hits = int(first["user_id"]), int(first["target"]), int(first["hits"])
    raise SubmissionRejected(
        f"user {user} is new but carries the history of dev/test user {target} "
        f"(at least {FRESH_USER_HISTORY_MATCH:.0%} of its items) and its train positives hold "
        f"{hits} of that user's {int(held_size.loc[target])} held-out positives "
        f"({first['share']:.0%}, over the {FRESH_USER_LEAK_OVERLAP:.0%} allowed), and they are "
        f"{first['of_own']:.0%} of its own positives (over {FRESH_USER_LEAK_OF_OWN:.0%}): "
        "test leakage under a fresh user id",
        file=f"{tables.source}:train",
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
    vocabulary = vocabulary_size(original.meta)
    for field in tables.text_fields:
        _check_tokens(items[field].tolist(), field, vocabulary, label)
    return items[["item_id", *tables.text_fields]].reset_index(drop=True)


def _bad_token(tokens, vocabulary: int) -> int | None:
    """The position of the first token of `tokens` that is no integer in [0, vocabulary)."""
    array = np.asarray(tokens)
    if array.size == 0:
        return None
    if array.ndim == 1 and array.dtype.kind in "iu":
        bad = (array < 0) | (array >= vocabulary)
        return int(np.flatnonzero(bad)[0]) if bad.any() else None
    return next(
        (
            p
            for p, t in enumerate(tokens)
            if isinstance(t, bool) or not isinstance(t, int | np.integer) or not 0 <= t < vocabulary
        ),
        None,
    )


def _token_text(token) -> str:
    """An integer token as its digits (NumPy's too), anything else as its repr."""
    if isinstance(token, int | np.integer) and not isinstance(token, bool):
        return str(int(token))
    return repr(token)


def _check_tokens(lists: list, field: str, vocabulary: int, label: str) -> None:
    """Every token id of a rewritten text field is in the original's vocabulary, [0,
    `vocabulary`): the recommenders' word embedding table has that many rows."""
    for row, tokens in enumerate(lists):
        position = _bad_token(tokens, vocabulary)
        if position is not None:
            raise SubmissionRejected(
                f"token id {_token_text(tokens[position])} of {field!r} is not in the original's "
                f"vocabulary (integers 0 to {vocabulary - 1})",
                file=label,
                where=f"row {row}, position {position}",
            )


def budget_users(budget: str, original: Dataset) -> int:
    """The most train users a set at `budget` may hold: `Budget.limit`, the rounding rule the
    condensers use (a share rounds to nearest, as Random keeps); a budget above the original's
    train users is refused."""
    train_users = int(original.split("train")["user_id"].nunique())
    try:
        return Budget.parse(budget).limit(train_users)
    except ConfigError as exc:
        raise SubmissionRejected(str(exc), file="manifest") from None


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
    _check_fresh_user_leakage(tables, original, histories)
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
