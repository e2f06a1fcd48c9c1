"""`random-kxl`: k random users, each user's LAST L train items (a TD3-shaped hard set).

Users: drawn as `random-users` draws them (the same users for the same seed and budget).
Each keeps the last ``length`` (L, default 50: the length the learners read and a TD3
summary's sequence length) items of their train sequence, in order; a user with fewer keeps
all. At most k × L interactions, the interaction-equivalents of a TD3 summary of k × L.
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.random_users import random_users
from condensers.sequence_sets import LengthParams, require_sequential, sequences_set, user_sequences
from harness.dataset import Dataset
from harness.sequences import SEQUENTIAL_KIND


class RandomKxLCondenser(Condenser):
    name = "random-kxl"
    summary = "k random users, the last L items of each one's train sequence (sequential)"
    Params = LengthParams
    data_kinds = (SEQUENTIAL_KIND,)

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        length = self.params.length
        with ctx.stage("users"):
            users = random_users(budget, dataset, rng)
            by_user = user_sequences(dataset)
            tails = [by_user[int(u)][-length:] for u in users]
            return sequences_set(dataset, users, tails, variant=self.name, meta={"length": length})
