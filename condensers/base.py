"""The condenser interface: one hook, `Condenser.condense(dataset, budget, rng, ctx)`.

A condenser turns a `Dataset` into a condensed set in the same schema, built with
`Dataset.with_train(...)`: its train split (and possibly items and histories) change, dev and
test stay the original ones. The budget says how many synthetic users the set may hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from harness.budget import Budget, train_users
from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.typed import Settings

if TYPE_CHECKING:
    from condensers.context import CondenseContext

__all__ = [  # Budget and train_users live in harness.budget (the core floor); re-exported here
    "ANY_KIND",
    "Budget",
    "Condenser",
    "NoParams",
    "selected_users_train",
    "train_positives",
    "train_users",
]


ANY_KIND = "*"  # `Condenser.data_kinds` of a method that takes every kind of data


class NoParams(Settings):
    """Parameters of a condenser that takes none."""


class Condenser(ABC):
    """One condensation method. Subclasses set `name`, `summary`, `Params` and `condense`,
    `data_kinds` when they take other data than the content track's, and `label` when the
    board should name the method otherwise than by its registry name.

    ``Params`` is a `harness.typed.Settings` model (frozen, unknown keys refused) whose field
    types and validators reject bad values with a `ConfigError` naming the key; `from_options`
    builds it from a plain mapping (config, CLI), and ``params.model_dump()`` is what records
    and cache keys store.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type] = NoParams
    version: ClassVar[str] = "1"  # bump when the output for the same inputs changes
    # the kinds of data (`harness.tracks.dataset_kind`: "content", "sequential") it condenses;
    # ANY_KIND: every kind (the identity)
    data_kinds: ClassVar[tuple[str, ...]] = ("content",)
    # the options of the method's smallest run (a profile, fewer steps): what the contract
    # tests and other quick checks pass; a method that is fast anyway leaves it empty
    smoke_options: ClassVar[dict[str, Any]] = {}
    # the method as the board names it, e.g. "Farzi (in TD3's loop)"; None: its registry name.
    # Result records carry it (`MethodInfo.label`) when a cell keeps the condenser's own name
    label: ClassVar[str | None] = None
    # a method built from a partial description (FOSTER: its abstract) says so, and names every
    # choice that description leaves open (parameter -> what we chose); records and the entry
    # page carry both (`MethodInfo.implemented_from`, `MethodInfo.open_choices`)
    implemented_from: ClassVar[str | None] = None
    open_choices: ClassVar[dict[str, str]] = {}

    @classmethod
    def takes(cls, kind: str) -> bool:
        """True when the method condenses data of `kind`."""
        return ANY_KIND in cls.data_kinds or kind in cls.data_kinds

    def __init__(self, params: Any = None):
        self.params = params if params is not None else self.Params()

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None) -> Condenser:
        options = {k: v for k, v in (options or {}).items() if v is not None}
        try:
            return cls(cls.Params(**options))
        except ConfigError as exc:
            raise ConfigError(f"{cls.name}: {exc}") from None

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for result records and manifests."""
        return {"method": self.name, "params": self.params.model_dump()}

    @abstractmethod
    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        """Return the condensed set (`dataset.with_train(...)`); dev and test unchanged."""


# ---- helpers shared by the methods -------------------------------------------------------
def train_positives(dataset: Dataset) -> pd.DataFrame:
    """The train split's positive rows (label 1)."""
    train = dataset.split("train")
    return train[train["label"] == 1].reset_index(drop=True)


def selected_users_train(dataset: Dataset, user_ids: np.ndarray) -> pd.DataFrame:
    """The train positives of `user_ids` (negatives are drawn from Original by the trainer)."""
    positives = train_positives(dataset)
    return positives[positives["user_id"].isin(set(user_ids.tolist()))].reset_index(drop=True)
