"""The TF-DCon release's own condensed train sets as read-only named entries.

``release-random``, ``release-majority`` and ``release-tfdcon`` return the data layer's
``random``, ``majority`` and ``condensed`` variants of a release dataset (movielens-tfdcon,
goodreads-tfdcon), so they can be scored next to our own methods. They are fixed sets of
47 users (MovieLens): the budget is not used, only recorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from harness.data import get_source
from harness.dataset import Dataset
from harness.errors import ConfigError


class ReleaseEntry(Condenser):
    """A released train set: the data-layer variant `release_variant` of the same dataset."""

    release_variant: ClassVar[str]

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        name = dataset.meta.get("name", dataset.name)
        source = get_source(name)
        if self.release_variant not in source.variants:
            raise ConfigError(
                f"{self.name}: dataset {name!r} has no {self.release_variant!r} variant "
                f"(only the TF-DCon release datasets do)"
            )
        with ctx.stage("load release"):
            released = ctx.load_variant(name, self.release_variant)
        users = released.split("train")["user_id"].nunique()
        meta = {**released.meta, "variant": self.name, "release_variant": self.release_variant}
        meta.update({"budget_requested": str(budget), "selected_users": int(users)})
        return replace(released, meta=meta)


class ReleaseRandom(ReleaseEntry):
    name = "release-random"
    summary = "the TF-DCon release's random set (read only)"
    release_variant = "random"


class ReleaseMajority(ReleaseEntry):
    name = "release-majority"
    summary = "the TF-DCon release's majority set (read only)"
    release_variant = "majority"


class ReleaseTfdcon(ReleaseEntry):
    name = "release-tfdcon"
    summary = "the TF-DCon release's condensed set, gpt-3.5 titles (read only)"
    release_variant = "condensed"
