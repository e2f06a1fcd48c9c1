"""Condensers by name: the built-in ones, plus any package's entry points.

A method in another package shows up by name once that package declares it in the
``condbench.condensers`` entry-point group, e.g. in its pyproject.toml::

    [project.entry-points."condbench.condensers"]
    mymethod = "mypackage.mymethod:MyCondenser"

The entry point must load a `Condenser` subclass. Built-in names win over entry points.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points

from condensers.base import Condenser
from harness.errors import ConfigError

ENTRY_POINT_GROUP = "condbench.condensers"

# name -> "module:Class"; imported only when asked for
BUILTIN: dict[str, str] = {
    "original": "condensers.original:OriginalCondenser",
    "random": "condensers.random:RandomCondenser",
    "majority": "condensers.majority:MajorityCondenser",
    "tfdcon": "condensers.tfdcon:TfdconCondenser",
    "tfdcon-content": "condensers.tfdcon:TfdconContentCondenser",
    "tfdcon-user": "condensers.tfdcon:TfdconUserCondenser",
    "release-random": "condensers.release:ReleaseRandom",
    "release-majority": "condensers.release:ReleaseMajority",
    "release-tfdcon": "condensers.release:ReleaseTfdcon",
}


def _plugin_entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every condenser name: built-ins and installed entry points."""
    return sorted(set(BUILTIN) | set(_plugin_entry_points()))


def get(name: str) -> type[Condenser]:
    """The condenser class called `name` (built-in first, then the entry points)."""
    if name in BUILTIN:
        module_name, attr = BUILTIN[name].split(":")
        cls = getattr(importlib.import_module(module_name), attr)
    else:
        plugin = _plugin_entry_points().get(name)
        if plugin is None:
            raise ConfigError(f"unknown condenser {name!r}; known: {', '.join(available())}")
        try:
            cls = plugin.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"condenser {name!r}: entry point {plugin.value!r} failed to load: {exc}"
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, Condenser)):
        raise ConfigError(f"condenser {name!r} is not a Condenser subclass ({cls!r})")
    return cls


def make(name: str, options: dict | None = None) -> Condenser:
    """An instance of condenser `name` with typed parameters built from `options`."""
    return get(name).from_options(options)
