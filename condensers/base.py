"""The condenser interface: one hook, `Condenser.condense(dataset, budget, rng, ctx)`.

A condenser turns a `Dataset` into a condensed set in the same schema, built with
`Dataset.with_train(...)`: its train split (and possibly items and histories) change, dev and
test stay the original ones. The budget says how many synthetic users the set may hold.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from harness.dataset import Dataset
from harness.errors import ConfigError, unknown_field

if TYPE_CHECKING:
    from condensers.context import CondenseContext

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Budget:
    """How many synthetic users a condensed set may hold: a count, or a share of the users.

    Exactly one of ``users`` (a count) and ``share`` (0 < share <= 1) is set. A share counts
    every user with train rows (5% of MovieLens' 939 -> 47, the release's size); users are then
    chosen among those with a train positive (`train_users`).
    """

    users: int | None = None
    share: float | None = None

    def __post_init__(self) -> None:
        if (self.users is None) == (self.share is None):
            raise ConfigError("budget: give either a number of users or a share of users")
        if self.users is not None and self.users < 1:
            raise ConfigError(f"budget: number of users must be at least 1, got {self.users}")
        if self.share is not None and not 0 < self.share <= 1:
            raise ConfigError(f"budget: share of users must be in (0, 1], got {self.share}")

    @classmethod
    def parse(cls, value: str | int | float) -> Budget:
        """``47`` -> 47 users; ``"5%"`` or ``0.05`` -> 5% of the users."""
        if isinstance(value, bool):
            raise ConfigError(f"budget: expected a number of users or a share, got {value!r}")
        if isinstance(value, int):
            return cls(users=value)
        if isinstance(value, float):
            if value.is_integer() and value >= 1:
                return cls(users=int(value))
            return cls(share=value)
        text = str(value).strip()
        percent = _PERCENT.match(text)
        if percent:
            return cls(share=float(percent.group(1)) / 100)
        if re.fullmatch(r"\d+", text):
            return cls(users=int(text))
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(
                f"budget: {value!r} is neither a number of users (47) nor a share (5% or 0.05)"
            ) from None
        return cls.parse(number)

    def resolve(self, population: int, *, all_users: int | None = None) -> int:
        """The number of synthetic users, chosen among `population` users.

        A share is taken of `all_users` (default: `population`).
        """
        if population < 1:
            raise ConfigError("budget: the dataset has no train users with a positive")
        if self.users is None:  # a share never asks for more than there are
            return min(population, max(1, int(round(self.share * (all_users or population)))))
        count = self.users
        if count > population:
            raise ConfigError(
                f"budget: {count} users asked for, the dataset has only {population} with a train positive"
            )
        return count

    def resolve_for(self, dataset: Dataset) -> tuple[np.ndarray, int]:
        """(the users to choose from, how many to choose) for `dataset`'s train split."""
        population = train_users(dataset)
        all_users = int(dataset.split("train")["user_id"].nunique())
        return population, self.resolve(len(population), all_users=all_users)

    def __str__(self) -> str:
        return str(self.users) if self.users is not None else f"{self.share * 100:g}%"


@dataclass(frozen=True)
class NoParams:
    """Parameters of a condenser that takes none."""


class Condenser(ABC):
    """One condensation method. Subclasses set `name`, `summary`, `Params` and `condense`.

    ``Params`` is a dataclass whose ``__post_init__`` rejects bad values with a `ConfigError`
    naming the key; `from_options` builds it from a plain mapping (config, CLI).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type] = NoParams
    version: ClassVar[str] = "1"  # bump when the output for the same inputs changes

    def __init__(self, params: Any = None):
        self.params = params if params is not None else self.Params()

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None) -> Condenser:
        options = {k: v for k, v in (options or {}).items() if v is not None}
        unknown, known = unknown_field(options, cls.Params)
        if unknown:
            accepted = ", ".join(known) or "none"
            raise ConfigError(f"{cls.name}: unknown parameter {unknown!r} (accepted: {accepted})")
        return cls(cls.Params(**options))

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for result records and manifests."""
        return {"method": self.name, "params": dataclasses.asdict(self.params)}

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


def train_users(dataset: Dataset) -> np.ndarray:
    """Sorted ids of the users with at least one train positive: the population a budget counts.

    A user with only negatives in train cannot contribute a positive-only train set (the
    release's selected sets hold positives only), so such users are never selected.
    """
    return np.sort(train_positives(dataset)["user_id"].unique()).astype(np.int64)


def selected_users_train(dataset: Dataset, user_ids: np.ndarray) -> pd.DataFrame:
    """The train positives of `user_ids` (negatives are drawn from Original by the trainer)."""
    positives = train_positives(dataset)
    return positives[positives["user_id"].isin(set(user_ids.tolist()))].reset_index(drop=True)


def check_params(condition: bool, key: str, message: str) -> None:
    """Raise a `ConfigError` naming `key` unless `condition` holds."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


def check_int(value: Any, key: str, minimum: int) -> None:
    """`value` must be an integer >= `minimum` (not a bool, not a string)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= minimum
    check_params(ok, key, f"must be an integer >= {minimum}, got {value!r}")


def check_number(value: Any, key: str, minimum: float, *, strict: bool = False) -> None:
    """`value` must be a number >= `minimum` (> when `strict`)."""
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    ok = ok and (value > minimum if strict else value >= minimum)
    sign = ">" if strict else ">="
    check_params(ok, key, f"must be a number {sign} {minimum}, got {value!r}")
