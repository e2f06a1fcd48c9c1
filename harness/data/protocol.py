"""Our protocol for raw rating logs (ml-100k, goodreads): labels, time split, histories.

- label 1 = rating >= 4, label 0 = rating < 4 (rated, so shown, but not liked).
- per user, ratings in time order (ties by item id) split 80/10/10: dev and test get
  floor(n/10) each (at least 1 when the user has 3 or more ratings), train the rest.
- history = the user's first up-to-5 positive train ratings; they are taken out of the
  train interactions (as in the TF-DCon release, where no history item is a candidate).
- ranking groups per user and split (group_id = user_id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HISTORY_LENGTH = 5
POSITIVE_RATING = 4
HELD_OUT_SHARE = 10  # dev and test each get n // 10 of a user's ratings


def split_by_time(ratings: pd.DataFrame) -> pd.DataFrame:
    """`ratings` (user_id, item_id, rating, timestamp) -> + split, label, in_history."""
    ordered = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable").reset_index(
        drop=True
    )
    position = ordered.groupby("user_id").cumcount().to_numpy()
    count = ordered.groupby("user_id")["item_id"].transform("size").to_numpy()
    held_out = np.where(count >= 3, np.maximum(count // HELD_OUT_SHARE, 1), 0)
    split = np.full(len(ordered), "train", dtype=object)
    split[position >= count - 2 * held_out] = "dev"
    split[position >= count - held_out] = "test"
    ordered["split"] = split
    ordered["label"] = (ordered["rating"] >= POSITIVE_RATING).astype(np.int8)
    positive_train = (ordered["split"] == "train") & (ordered["label"] == 1)
    rank = positive_train.astype(int).groupby(ordered["user_id"]).cumsum()
    ordered["in_history"] = positive_train & (rank <= HISTORY_LENGTH)
    return ordered


def histories_and_interactions(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the protocol: the histories table and the interactions (group = user)."""
    ordered = split_by_time(ratings)
    in_history = ordered[ordered["in_history"]].groupby("user_id")["item_id"].agg(list)
    users = np.sort(ordered["user_id"].unique())
    histories = pd.DataFrame(
        {"user_id": users, "history": [list(in_history.get(u, [])) for u in users]}
    )
    interactions = ordered[~ordered["in_history"]].assign(group_id=lambda f: f["user_id"])
    return histories, interactions


PROTOCOL_SUMMARY = "label = rating>=4; per-user time split 80/10/10; history = first 5 train positives (not candidates)"
