"""Condensers by name: the built-in ones, plus any package's entry points.

A method in another package shows up by name once that package declares it in the
``condbench.condensers`` entry-point group, e.g. in its pyproject.toml::

    [project.entry-points."condbench.condensers"]
    mymethod = "mypackage.mymethod:MyCondenser"

The entry point must load a `Condenser` subclass. Built-in names win over entry points.
A new built-in method is one module plus one `CONDENSERS.register` line below.
"""

from __future__ import annotations

from typing import Any

from condensers.base import Condenser
from harness.errors import ConfigError
from harness.registry import Registry

ENTRY_POINT_GROUP = "condbench.condensers"


def _must_be_condenser(name: str, target: Any) -> None:
    if not (isinstance(target, type) and issubclass(target, Condenser)):
        raise ConfigError(f"condenser {name!r} is not a Condenser subclass ({target!r})")


# name -> "module:Class"; imported only when asked for
CONDENSERS: Registry[type[Condenser]] = Registry(
    "condenser", entry_points=ENTRY_POINT_GROUP, check=_must_be_condenser
)
CONDENSERS.register("original", "condensers.original:OriginalCondenser")
CONDENSERS.register("random", "condensers.random:RandomCondenser")
CONDENSERS.register("majority", "condensers.majority:MajorityCondenser")
CONDENSERS.register("tfdcon", "condensers.tfdcon:TfdconCondenser")
CONDENSERS.register("tfdcon-content", "condensers.tfdcon:TfdconContentCondenser")
CONDENSERS.register("tfdcon-user", "condensers.tfdcon:TfdconUserCondenser")
CONDENSERS.register("release-random", "condensers.release:ReleaseRandom")
CONDENSERS.register("release-majority", "condensers.release:ReleaseMajority")
CONDENSERS.register("release-tfdcon", "condensers.release:ReleaseTfdcon")
# the sequential track's baselines
CONDENSERS.register("random-users", "condensers.random_users:RandomUsersCondenser")
CONDENSERS.register("random-kxl", "condensers.random_kxl:RandomKxLCondenser")
CONDENSERS.register("longest-users", "condensers.longest_users:LongestUsersCondenser")
CONDENSERS.register("temporal", "condensers.temporal:TemporalCondenser")
CONDENSERS.register("kcenter", "condensers.kcenter:KCenterCondenser")
# the sequential track's distillation methods (TD3's loop, `condensers.distillation`)
CONDENSERS.register("td3", "condensers.td3:TD3Condenser")
CONDENSERS.register("farzi", "condensers.farzi:FarziCondenser")
# FOSTER: first-order, text-based (`condensers.foster`)
CONDENSERS.register("foster", "condensers.foster:FosterCondenser")


def available() -> list[str]:
    """Every condenser name: built-ins and installed entry points."""
    return CONDENSERS.names()


def get(name: str) -> type[Condenser]:
    """The condenser class called `name` (built-in first, then the entry points)."""
    return CONDENSERS.get(name)


def make(name: str, options: dict | None = None) -> Condenser:
    """An instance of condenser `name` with typed parameters built from `options`."""
    return get(name).from_options(options)
