"""The one `Budget`: how many users a condensed set may hold.

A budget is written ``47`` (users), ``5%`` or ``0.05`` (a share of the users) or ``all``
(every user). `Budget.parse` reads every form, `Budget.label` (``str(budget)``) writes the one
name records and record paths use (``"47"``, ``"5%"``, ``"all"``); `canonical_label` turns a
budget as written into that name.

One rounding rule turns a share into users, `share_users`: round to nearest (Python's
``round``, ties to even), at least 1. Condensers (`Budget.resolve`) and submission checks
(`Budget.limit`) both use it, so a submission at 1% of MovieLens' 939 users may keep 9 users,
as Random keeps. A budget above the original's users (a count over its train users, a share
above 100%) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from harness.dataset import Dataset
from harness.errors import ConfigError

ALL_USERS = "all"
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def canonical_label(text: str) -> str:
    """The one label of a budget as written: `Budget.label` (``"00047"`` and ``" 47"`` ->
    ``"47"``, ``"5.0%"`` -> ``"5%"``, ``"ALL"`` -> ``"all"``), so equal budgets compare
    equal; text that is no budget stays as written, stripped."""
    try:
        return Budget.parse(text).label
    except ConfigError:
        return str(text).strip()


def share_users(share: float, all_users: int) -> int:
    """The users a `share` of `all_users` is: rounded to nearest (ties to even), at least 1.

    The one rounding rule of condbench: condensers and submission checks both call it.
    """
    return max(1, int(round(share * all_users)))


def train_users(dataset: Dataset) -> np.ndarray:
    """Sorted ids of the users with at least one train positive: the population a budget counts.

    A user with only negatives in train cannot contribute a positive-only train set (the
    release's selected sets hold positives only), so such users are never selected.
    """
    train = dataset.split("train")
    positives = train[train["label"] == 1]
    return np.sort(positives["user_id"].unique()).astype(np.int64)


@dataclass(frozen=True)
class Budget:
    """How many synthetic users a condensed set may hold: a count, a share, or every user.

    Exactly one of ``users`` (a count) and ``share`` (0 < share <= 1) is set; ``everyone``
    (``all``) is a share of 1 that records name ``"all"``. A share counts every user with
    train rows (5% of MovieLens' 939 -> 47, the release's size); users are then chosen among
    those with a train positive (`train_users`).
    """

    users: int | None = None
    share: float | None = None
    everyone: bool = False

    def __post_init__(self) -> None:
        if self.everyone:
            if self.users is not None or self.share not in (None, 1.0):
                raise ConfigError("budget: 'all' takes no number of users or share")
            object.__setattr__(self, "share", 1.0)
        if (self.users is None) == (self.share is None):
            raise ConfigError("budget: give either a number of users or a share of users")
        if self.users is not None and self.users < 1:
            raise ConfigError(f"budget: number of users must be at least 1, got {self.users}")
        if self.share is not None and not 0 < self.share <= 1:
            raise ConfigError(
                f"budget: share of users must be in (0, 1] (at most 100%), got {self.share}"
            )

    @classmethod
    def parse(cls, value: str | int | float | Budget) -> Budget:
        """``47`` -> 47 users; ``"5%"`` or ``0.05`` -> 5% of the users; ``"all"`` -> every user."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool):
            raise ConfigError(f"budget: expected a number of users or a share, got {value!r}")
        if isinstance(value, float | int | np.integer) and not value > 0:  # 0, -5, nan
            raise ConfigError(
                f"budget: {value!r} is not a positive number of users (47) or share (5% or 0.05)"
            )
        if isinstance(value, int | np.integer):
            return cls(users=int(value))
        if isinstance(value, float):
            if value.is_integer() and value >= 1:
                return cls(users=int(value))
            return cls(share=value)
        text = str(value).strip()
        if text.lower() == ALL_USERS:
            return cls(everyone=True)
        percent = _PERCENT.match(text)
        if percent:
            return cls(share=float(percent.group(1)) / 100)
        if re.fullmatch(r"\d+", text):
            return cls(users=int(text))
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(
                f"budget: {value!r} is neither a number of users (47), a share (5% or 0.05) "
                f"nor {ALL_USERS!r}"
            ) from None
        if not number > 0:
            raise ConfigError(
                f"budget: {text!r} is not a positive number of users (47) or share (5% or 0.05)"
            )
        return cls.parse(number)

    @property
    def label(self) -> str:
        """The name records and record paths use: ``"47"``, ``"5%"`` or ``"all"``."""
        if self.everyone:
            return ALL_USERS
        if self.users is not None:
            return str(self.users)
        return f"{self.share * 100:.12g}%"

    def __str__(self) -> str:
        return self.label

    def limit(self, all_users: int) -> int:
        """The most users a set at this budget may hold, for an original with `all_users` train
        users; a count above `all_users` is refused. Submission checks use it."""
        if all_users < 1:
            raise ConfigError("budget: the original has no train users")
        if self.users is None:
            return share_users(self.share, all_users)
        if self.users > all_users:
            raise ConfigError(
                f"budget: {self.users} users is above the original's {all_users} train users"
            )
        return self.users

    def resolve(self, population: int, *, all_users: int | None = None) -> int:
        """The number of synthetic users, chosen among `population` users.

        A share is taken of `all_users` (default: `population`), by `share_users`.
        """
        if population < 1:
            raise ConfigError("budget: the dataset has no train users with a positive")
        if self.users is None:  # a share never asks for more than there are
            return min(population, self.limit(all_users or population))
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
