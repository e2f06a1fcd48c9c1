"""The one client condensers use: `title(key, fields)` and `interests(key, titles)`.

`LLMClient` is the interface (plus batch helpers with a progress bar). `GeneratingClient`
serves it from a text backend (openai, local): prompt -> cache -> backend -> parse, with a
retry on an unusable answer and then a recorded, counted fallback. The replay backend has
its own client (`backends/replay.py`), since it answers from recorded outputs only.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from tqdm import tqdm

from condensers.llm import answers, prompts
from condensers.llm.cache import ResponseCache, cache_key
from condensers.llm.errors import LLMInputError, LLMSpecError
from condensers.llm.prompts import INTERESTS_TASK, LIMITS, PROMPT_VERSION, TITLE_TASK, Message


@dataclass(frozen=True)
class ClientSettings:
    """How a generating client talks to its backend. Checked on creation."""

    timeout_s: float = 60.0
    max_retries: int = 3  # transport retries (timeouts, 5xx, 429), with exponential backoff
    backoff_s: float = 1.0
    concurrency: int = 4  # parallel requests (openai); the local model runs one at a time
    parse_retries: int = 1  # extra asks after an unusable answer, before the fallback

    def __post_init__(self) -> None:
        for name, minimum in (("timeout_s", 1e-3), ("backoff_s", 0.0)):
            if float(getattr(self, name)) < minimum:
                raise LLMSpecError(f"llm setting {name}={getattr(self, name)!r} is below {minimum}")
        for name, minimum in (("max_retries", 0), ("concurrency", 1), ("parse_retries", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < minimum:
                raise LLMSpecError(f"llm setting {name}={value!r} must be an integer >= {minimum}")


class TextBackend(Protocol):
    """What a generating backend provides: chat messages in, answer text out."""

    name: str
    model: str
    identity: str  # model name plus whatever changes its answers (file hash, engine)
    concurrency: int

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        stop: tuple[str, ...] = (),
        answer_prefix: str = "",
    ) -> str:
        """The answer text. It ends before any `stop` string; a backend that can continue a
        reply starts it with `answer_prefix` (and returns the prefix too), others ignore it."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ClientStats:
    """Counters of one client: requests, backend calls, cache hits, retries, fallbacks."""

    COUNTERS = ("requests", "calls", "cached", "replayed", "retries", "fallbacks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNTERS, 0)

    def add(self, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[counter] += amount

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class LLMClient(ABC):
    """Task-level LLM access, keyed by a stable string (e.g. "movielens-tfdcon/item/12")."""

    concurrency: int = 1

    def __init__(self) -> None:
        self._stats = ClientStats()

    @abstractmethod
    def title(self, key: str, fields: Mapping[str, str]) -> str:
        """One new title/summary of an item from its text fields (TF-DCon §III-B)."""

    @abstractmethod
    def interests(self, key: str, titles: list[str]) -> list[str]:
        """Up to five interests of a user from the titles of their history (§III-C1)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, model and prompt template version: recorded in every result."""

    def stats(self) -> dict[str, int]:
        """Counters: requests, calls (made to the backend), cached, replayed, retries, fallbacks."""
        return self._stats.as_dict()

    def close(self) -> None:  # noqa: B027 (optional hook: nothing to release by default)
        """Release connections and models."""

    def titles(
        self, requests: Mapping[str, Mapping[str, str]], *, progress: bool = True
    ) -> dict[str, str]:
        """`title` for many keys (in parallel up to the backend's concurrency)."""
        return self._many(self.title, requests, "LLM titles", progress)

    def interests_many(
        self, requests: Mapping[str, list[str]], *, progress: bool = True
    ) -> dict[str, list[str]]:
        """`interests` for many keys (in parallel up to the backend's concurrency)."""
        return self._many(self.interests, requests, "LLM interests", progress)

    def _many(self, task: Callable, requests: Mapping, label: str, progress: bool) -> dict:
        keys = list(requests)
        bar = tqdm(total=len(keys), desc=label, disable=not progress, unit="req", leave=False)
        try:
            if self.concurrency <= 1:
                results = {}
                for key in keys:
                    results[key] = task(key, requests[key])
                    bar.update()
                return results
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                futures = {key: pool.submit(task, key, requests[key]) for key in keys}
                results = {}
                for key in keys:
                    results[key] = futures[key].result()
                    bar.update()
                return results
        finally:
            bar.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class GeneratingClient(LLMClient):
    """A client whose answers come from a text backend, through the response cache."""

    def __init__(self, backend: TextBackend, cache: ResponseCache, settings: ClientSettings):
        super().__init__()
        self.backend = backend
        self.cache = cache
        self.settings = settings
        self.concurrency = backend.concurrency

    def title(self, key: str, fields: Mapping[str, str]) -> str:
        item_fields = _check_fields(key, fields)
        return self._answer(
            TITLE_TASK,
            item_fields,
            prompts.title_messages(item_fields),
            answers.parse_title,
            lambda: answers.fallback_title(item_fields),
        )

    def interests(self, key: str, titles: list[str]) -> list[str]:
        history = [str(title) for title in titles]
        if not history:
            self._stats.add("requests")
            self._stats.add("fallbacks")
            return []  # nothing to read interests from: no call
        return self._answer(
            INTERESTS_TASK,
            history,
            prompts.interests_messages(history),
            answers.parse_interests,
            lambda: answers.fallback_interests(history),
        )

    def describe(self) -> dict[str, Any]:
        return {**self.backend.describe(), "prompt_version": PROMPT_VERSION}

    def close(self) -> None:
        self.backend.close()
        self.cache.close()

    def _answer(
        self,
        task: str,
        task_input: Any,
        messages: list[Message],
        parse: Callable[[str], Any],
        fallback: Callable[[], Any],
    ) -> Any:
        self._stats.add("requests")
        key = cache_key(self.backend.name, self.backend.identity, PROMPT_VERSION, task, task_input)
        cached = self.cache.get(key)
        if cached is not None:
            self._stats.add("cached")
            if cached.fallback:
                self._stats.add("fallbacks")
            return cached.output

        limits = LIMITS[task]
        output = None
        for attempt in range(self.settings.parse_retries + 1):
            if attempt:
                self._stats.add("retries")
            self._stats.add("calls")
            raw = self.backend.complete(
                messages,
                max_tokens=limits.max_new_tokens,
                stop=limits.stop,
                answer_prefix=limits.answer_prefix,
            )
            output = parse(raw)
            if output is not None:
                break
            messages = prompts.retry_messages(task, messages, raw)
        is_fallback = output is None
        if is_fallback:
            self._stats.add("fallbacks")
            output = fallback()
        self.cache.put(
            key,
            task=task,
            backend=self.backend.name,
            model=self.backend.identity,
            prompt_version=PROMPT_VERSION,
            task_input=task_input,
            output=output,
            fallback=is_fallback,
        )
        return output


def _check_fields(key: str, fields: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(fields, Mapping) or not fields:
        raise LLMInputError(f"llm title {key!r}: needs a non-empty dict of item fields")
    return {str(name): str(value) for name, value in fields.items()}
