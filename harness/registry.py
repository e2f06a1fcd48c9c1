"""The one registry type: every named, pluggable concept (condensers, learners, metrics,
datasets, tracks) is a `Registry`.

An entry is either the object itself or a ``"module:attr"`` string, imported the first time
it is asked for (so listing names never imports torch). A registry may also read a Python
entry-point group, so a method in another package shows up by name once installed. Built-in
names win over entry points; registering a taken name is an error unless ``replace=True``.

    CONDENSERS = Registry("condenser", entry_points="condbench.condensers")
    CONDENSERS.register("random", "condensers.random:RandomCondenser")
    CONDENSERS.get("random")  # -> the class; unknown names raise ConfigError listing the known
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points as _entry_points
from typing import Any, Generic, TypeVar

from harness.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object (or lazy ``"module:attr"``), with a check run on every object got."""

    def __init__(
        self,
        kind: str,
        *,
        entry_points: str | None = None,
        check: Callable[[str, Any], None] | None = None,
        case_sensitive: bool = True,
    ):
        self.kind = kind
        self.entry_point_group = entry_points
        self._check = check
        self._case_sensitive = case_sensitive
        self._entries: dict[str, T | str] = {}

    # ---- filling --------------------------------------------------------------------------
    def register(self, name: str, target: T | str | None = None, *, replace: bool = False) -> Any:
        """Register `target` under `name`; without a target, a decorator that registers."""
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj, replace=replace)
                return obj

            return decorator
        key = self._key(name)
        if not key or key != key.strip():
            raise ConfigError(f"{self.kind} name {name!r} must be non-empty, without spaces around")
        if key in self._entries and not replace:
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self._entries[key] = target
        return target

    def unregister(self, name: str) -> None:
        """Remove `name` (tests that register a temporary entry clean up with this)."""
        self._entries.pop(self._key(name), None)

    # ---- reading --------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every name, built-in and from entry points, sorted."""
        return sorted(set(self._entries) | set(self._plugins()))

    def builtin_names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in set(self.names())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def get(self, name: str) -> T:
        """The object registered as `name`; unknown names raise a `ConfigError` listing the known."""
        key = self._key(name) if isinstance(name, str) else name
        if key in self._entries:
            target = self._entries[key]
            if isinstance(target, str):
                target = self._entries[key] = _import(target, f"{self.kind} {name!r}")
        else:
            plugin = self._plugins().get(key)
            if plugin is None:
                raise ConfigError(
                    f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}"
                )
            try:
                target = plugin.load()
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"{self.kind} {name!r}: entry point {plugin.value!r} failed to load: {exc}"
                ) from None
        if self._check is not None:
            self._check(str(name), target)
        return target  # type: ignore[return-value]

    def items(self) -> list[tuple[str, T]]:
        """(name, object) for every name, importing lazy entries."""
        return [(name, self.get(name)) for name in self.names()]

    # ---- internals ------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return name if self._case_sensitive else name.lower()

    def _plugins(self) -> dict[str, Any]:
        if not self.entry_point_group:
            return {}
        return {
            self._key(ep.name): ep
            for ep in _entry_points(group=self.entry_point_group)
            if self._key(ep.name) not in self._entries
        }

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} built-in)"


def _import(target: str, what: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what}: cannot load {target!r}: {exc}") from None
