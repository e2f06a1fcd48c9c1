"""`temporal`: the latest train interactions, in global time order.

A sequential dataset's train rows are in global time order (`harness.sequences`): its last
rows are the latest interactions. A budget of k (`count` of `Budget.resolve_for`) keeps the
last k × ``length`` rows (L, default 50), so the set holds as many interactions as a k × L
set (`random-kxl`, a TD3 summary) at the same budget; all train rows when there are fewer.
It spans as many users as those rows do, usually more than k: its budget counts
interaction-equivalents, not users. The kept rows are grouped by user (users in id order),
each user's rows in their order: since each user's rows keep their time order, a user's kept
rows are the latest part (a suffix) of that user's train sequence.
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.sequence_sets import LengthParams, require_sequential, sequences_set
from harness.dataset import Dataset
from harness.sequences import SEQUENTIAL_KIND


def latest_rows(dataset: Dataset, interactions: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(users in id order, each one's items among the last `interactions` train rows, in order)."""
    train = dataset.split("train")
    latest = train.iloc[max(0, len(train) - interactions) :]
    users = latest["user_id"].to_numpy(np.int64)
    items = latest["item_id"].to_numpy(np.int64)
    order = np.argsort(users, kind="stable")  # grouped by user, each user's rows in order
    owners, starts = np.unique(users[order], return_index=True)
    return owners, np.split(items[order], starts[1:]) if len(owners) else []


class TemporalCondenser(Condenser):
    name = "temporal"
    summary = "the last k × L train interactions in global time order, grouped by user (sequential)"
    Params = LengthParams
    data_kinds = (SEQUENTIAL_KIND,)

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        _, count = budget.resolve_for(dataset)
        wanted = count * self.params.length
        with ctx.stage("rows"):
            owners, sequences = latest_rows(dataset, wanted)
            return sequences_set(
                dataset,
                owners,
                sequences,
                variant=self.name,
                meta={"length": self.params.length, "interactions_wanted": wanted},
            )
