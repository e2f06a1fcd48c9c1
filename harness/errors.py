"""Errors a user can act on. The CLI prints them as one line and exits 2 (bad input) or 1."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


class CondbenchError(Exception):
    """Base of every error condbench reports to a user without a traceback."""

    exit_code = 2


class DataError(CondbenchError):
    """Malformed or missing input data: names the file and the line or key."""

    def __init__(self, message: str, file: str | None = None, where: str | None = None):
        self.file = file
        self.where = where
        location = ""
        if file:
            location = f"{file}"
            if where:
                location += f" ({where})"
            location += ": "
        super().__init__(f"{location}{message}")


class ConfigError(CondbenchError):
    """An invalid config: names the key."""


class CheckFailed(CondbenchError):
    """A check (verify, validation of a submission) ran and failed."""

    exit_code = 1


def unknown_field(keys: Iterable[str], dataclass_type: type) -> tuple[str | None, list[str]]:
    """The first key (sorted) that is no field of `dataclass_type`, or None, and the known
    field names (sorted): for config errors that name the key and what is accepted."""
    known = sorted(f.name for f in dataclasses.fields(dataclass_type))
    unknown = sorted(set(keys) - set(known))
    return (unknown[0] if unknown else None), known
