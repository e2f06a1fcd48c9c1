"""Errors of the LLM layer, each printed by the CLI as one line."""

from __future__ import annotations

from harness.errors import CondbenchError, ConfigError


class LLMSpecError(ConfigError):
    """An `--llm` spec that names no backend or misses a part (model, URL, file)."""


class ReplayMiss(CondbenchError):
    """The replay backend was asked for an output that was never recorded."""


class LLMUnavailable(CondbenchError):
    """The backend could not answer: endpoint down, timed out after retries, model missing."""


class LLMInputError(CondbenchError):
    """A task input the LLM layer cannot use (no item fields, a non-string title)."""


class LLMTransportError(LLMUnavailable):
    """One request failed at the transport level after its retries (deadline, connection,
    5xx, an unreadable body): the client falls back for it, uncached, and counts it."""
