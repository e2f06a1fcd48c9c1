"""`random-users`: k users drawn uniformly at random, their whole train sequences.

The sequential track's Random. Users: `count` of the budget (`Budget.resolve_for`: for
sequential data every train row is a positive, so a budget of k is k users, i.e. k
sequences) drawn uniformly without replacement with the cell's seeded `rng` from the users
with a train sequence. The set holds each chosen user's whole train sequence, in order,
users in id order. `random-kxl` draws the same users for the same seed and budget.
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.sequence_sets import require_sequential, whole_sequences_set
from harness.dataset import Dataset
from harness.sequences import SEQUENTIAL_KIND


def random_users(budget: Budget, dataset: Dataset, rng: np.random.Generator) -> np.ndarray:
    """`count` users of the budget, drawn uniformly without replacement, in id order."""
    population, count = budget.resolve_for(dataset)
    return np.sort(rng.choice(population, size=count, replace=False))


class RandomUsersCondenser(Condenser):
    name = "random-users"
    summary = "k random users, their whole train sequences (sequential)"
    data_kinds = (SEQUENTIAL_KIND,)

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        with ctx.stage("users"):
            users = random_users(budget, dataset, rng)
            return whole_sequences_set(dataset, users, variant=self.name)
