"""`original`: the identity. The full train set, scored as the 100% reference."""

from __future__ import annotations

import numpy as np

from condensers.base import ANY_KIND, Budget, Condenser
from condensers.context import CondenseContext
from harness.dataset import Dataset


class OriginalCondenser(Condenser):
    name = "original"
    summary = "the dataset unchanged (the reference every Quality is relative to)"
    data_kinds = (ANY_KIND,)  # every track's 100% reference

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        return dataset.with_train(dataset.split("train"), variant=self.name)
