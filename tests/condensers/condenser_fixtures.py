"""A hand-made dataset: six users in two obvious clusters, with hand-picked embeddings.

Cluster A (users 10, 11, 12) sits around z = (0, 0), cluster B (20, 21, 22) around (10, 10).
Every value the tests expect is worked out by hand in the tests from these numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.dataset import Dataset, normalise_interactions

USERS = np.array([10, 11, 12, 20, 21, 22], dtype=np.int64)
# z_u: cluster A centroid (0, 0), cluster B centroid (10, 10)
Z = np.array([[0, 0], [1, 0], [-1, 0], [10, 10], [10, 12], [10, 8]], dtype=float)
# e_u: cluster A mean (0, 1), cluster B mean (2, 0)
E = np.array([[0, 4], [0, 0], [0, -1], [1, 0], [1, 0], [4, 0]], dtype=float)
# train positives per user (and one negative of user 10: never selected)
POSITIVES = {10: [1, 2], 11: [2, 3], 12: [4], 20: [5], 21: [6, 5], 22: [7]}
NEGATIVES = {10: [8], 22: [9]}
# interests per user: the "LLM" answers; each string maps to the e_u of its user above
INTERESTS = {
    10: ["a-ten"],
    11: ["a-eleven"],
    12: ["a-twelve"],
    20: ["b-twenty"],
    21: ["b-twenty-one"],
    22: ["b-twenty-two"],
}


def handmade_dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "item_id": np.arange(1, 11, dtype=np.int64),
            # item i: tokens 100*i, 100*i+1, ... (i + 2 of them) so cuts are easy to check
            "name": [[100 * i + k for k in range(i + 2)] for i in range(1, 11)],
            "year": [[2000 + i] for i in range(1, 11)],
        }
    )
    histories = pd.DataFrame(
        {"user_id": list(USERS) + [30], "history": [[u % 10 + 1, 10] for u in USERS] + [[1]]}
    )
    rows = [("train", u, i, 1) for u, items_ in POSITIVES.items() for i in items_]
    rows += [("train", u, i, 0) for u, items_ in NEGATIVES.items() for i in items_]
    rows += [("train", 30, 3, 0)]  # a user with no positive: never in the population
    rows += [("dev", 10, 1, 1), ("dev", 10, 9, 0), ("test", 20, 5, 1), ("test", 20, 7, 0)]
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label"])
    interactions["group_id"] = interactions["user_id"]
    dataset = Dataset(
        name="handmade",
        items=items,
        text_fields=("name", "year"),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta={"name": "handmade", "variant": "original"},
    )
    dataset.validate()
    return dataset


def handmade_user_embeddings(dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
    """z_u of the hand-made users (stands in for a recommender trained on Original)."""
    row = {int(u): k for k, u in enumerate(USERS)}
    return Z[[row[int(u)] for u in user_ids]]


class HandmadeInterests:
    """The recorded "LLM" of the hand-made dataset: interests per user, no titles."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def interests_many(self, requests: dict, *, progress: bool = True) -> dict:
        self.asked.extend(requests)
        return {key: INTERESTS[int(key.rsplit("/", 1)[1])] for key in requests}

    def stats(self) -> dict:
        return {"requests": len(self.asked)}

    def describe(self) -> dict:
        return {"backend": "handmade"}


class HandmadeEncoder:
    """Maps each interest string to its user's e_u row (so pooled(...) returns E)."""

    def pooled(self, groups: list[list[str]]) -> np.ndarray:
        vector = {text: E[k] for k, u in enumerate(USERS) for text in INTERESTS[int(u)]}
        return np.array([np.mean([vector[t] for t in group], axis=0) for group in groups])
