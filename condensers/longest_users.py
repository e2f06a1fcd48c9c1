"""`longest-users`: the k users with the longest train sequences (the Majority analogue).

Users are ranked by the length of their train sequence (their train rows), longest first,
ties broken by the lower user id; the first `count` of the budget are kept, with their whole
train sequences in order, users in id order. Deterministic: the seed plays no part.
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.sequence_sets import require_sequential, sequence_lengths, whole_sequences_set
from harness.dataset import Dataset
from harness.sequences import SEQUENTIAL_KIND


def longest_users(dataset: Dataset, population: np.ndarray, count: int) -> np.ndarray:
    """The `count` users of `population` with the longest train sequences (ties: lower id
    first), in id order."""
    population = np.sort(np.asarray(population, dtype=np.int64))
    lengths = sequence_lengths(dataset, population)
    ranked = population[np.lexsort((population, -lengths))]  # length desc, then id asc
    return np.sort(ranked[:count])


class LongestUsersCondenser(Condenser):
    name = "longest-users"
    summary = "the k users with the longest train sequences, whole (sequential)"
    data_kinds = (SEQUENTIAL_KIND,)

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        with ctx.stage("users"):
            population, count = budget.resolve_for(dataset)
            users = longest_users(dataset, population, count)
            return whole_sequences_set(dataset, users, variant=self.name)
