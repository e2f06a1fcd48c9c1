"""`majority`: the users with the most train interactions + random text (paper §IV-A2, ii).

Users are ranked by their number of train rows (positives and negatives; ties by user id),
which is how the release's majority set was chosen: its 47 MovieLens users are exactly the
47 with the most train rows. As in the release, the selected train set keeps positives only
(meta ``negatives_from = "original"``). Item text: the same random token cut as `random`.
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.random import RandomTextParams, build_selected_set
from harness.dataset import Dataset


def most_active_users(dataset: Dataset, population: np.ndarray, count: int) -> np.ndarray:
    """The `count` users of `population` with the most train rows (ties: lower id first)."""
    train = dataset.split("train")
    rows = train[train["user_id"].isin(set(population.tolist()))].groupby("user_id").size()
    ranked = sorted(rows.items(), key=lambda pair: (-pair[1], pair[0]))
    return np.sort(np.array([user for user, _ in ranked[:count]], dtype=np.int64))


class MajorityCondenser(Condenser):
    name = "majority"
    summary = "the users with the most train interactions (positives only) + random item text"
    Params = RandomTextParams

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        population, count = budget.resolve_for(dataset)
        chosen = most_active_users(dataset, population, count)
        return build_selected_set(
            dataset, chosen, variant=self.name, params=self.params, rng=rng, ctx=ctx
        )
