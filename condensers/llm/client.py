"""The one client condensers use: `titles(requests)` and `interests_many(requests)`.

`LLMClient` is the interface. It answers many keys at once; a single request
(`title(key, fields)`, `interests(key, titles)`) is a batch of one. `GeneratingClient`
serves it from a text backend (openai, local) through one path, `_answer_all`: prompt ->
cache -> backend -> parse (`answers`: rejected answers are asked again), then a counted
fallback that is never cached. The replay backend has its own client (`backends/replay.py`), since it answers
from recorded outputs only.

The uncached inputs go to the backend in groups of its `batch_size` when it generates many
prompts at once (`BatchTextBackend`: the local model; retries batched too), else one
prompt per call, in parallel up to its `concurrency` (openai). Cache keys, parsing,
fallbacks and counters do not depend on the grouping.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from condensers.llm import answers, prompts
from condensers.llm.cache import CachedAnswer, ResponseCache, cache_key
from condensers.llm.errors import LLMInputError, LLMSpecError, LLMTransportError, LLMUnavailable
from condensers.llm.prompts import INTERESTS_TASK, LIMITS, PROMPT_VERSION, TITLE_TASK, Message
from harness.errors import ConfigError
from harness.progress import Progress
from harness.typed import Settings, int_at_least, number_at_least


class ClientSettings(Settings):
    """How a generating client talks to its backend. Checked on creation."""

    label: ClassVar[str] = "llm setting"
    error: ClassVar[type[ConfigError]] = LLMSpecError

    # each HTTP attempt's total deadline (connect, send, headers and body together)
    timeout_s: number_at_least(1e-3) = 60.0
    # transport retries (deadline, connection, 5xx, 429, unreadable body), backoff doubling
    max_retries: int_at_least(0) = 3
    backoff_s: number_at_least(0.0) = 1.0
    # parallel requests (openai); the local model runs one at a time
    concurrency: int_at_least(1) = 4
    # extra asks after a rejected answer (`answers`), before the fallback
    parse_retries: int_at_least(0) = 1
    # requests in a row failing at the transport level before the run stops; 0: never
    unavailable_after: int_at_least(0) = 8


class TextBackend(Protocol):
    """What a generating backend provides: chat messages in, answer text out."""

    name: str
    model: str
    identity: str  # model name plus whatever changes its answers (file hash, engine)
    endpoint: str | None  # where it is served (a base URL) or None: part of the cache key
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


@runtime_checkable
class BatchTextBackend(Protocol):
    """A text backend that also answers many prompts in one go (same answers as `complete`)."""

    batch_size: int

    def complete_many(
        self,
        conversations: list[list[Message]],
        *,
        max_tokens: int,
        stop: tuple[str, ...] = (),
        answer_prefix: str = "",
    ) -> list[str]: ...


@dataclass
class PendingAnswer:
    """One request of a batch, on its way through cache -> ask -> parse -> retry/fallback."""

    key: str  # cache key
    task_input: Any
    messages: list[Message]
    parse: Callable[[str], Any]
    fallback: Callable[[], Any]
    output: Any = None
    is_fallback: bool = False


class ClientStats:
    """Counters of one client: requests, backend calls, cache hits, retries, fallbacks."""

    COUNTERS = ("requests", "calls", "cached", "replayed", "retries", "fallbacks", "http_attempts")

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
    """Task-level LLM access, keyed by a stable string (e.g. "movielens-tfdcon/item/12").

    Subclasses answer many keys (`titles`, `interests_many`); one key is a batch of one."""

    concurrency: int = 1

    def __init__(self) -> None:
        self._stats = ClientStats()

    def title(self, key: str, fields: Mapping[str, str]) -> str:
        """One new title/summary of an item from its text fields (TF-DCon §III-B)."""
        return self.titles({key: fields}, progress=False)[key]

    def interests(self, key: str, titles: list[str]) -> list[str]:
        """Up to five interests of a user from the titles of their history (§III-C1)."""
        return self.interests_many({key: titles}, progress=False)[key]

    @abstractmethod
    def titles(
        self, requests: Mapping[str, Mapping[str, str]], *, progress: bool = True
    ) -> dict[str, str]:
        """`title` for many keys: key -> the item's text fields."""

    @abstractmethod
    def interests_many(
        self, requests: Mapping[str, list[str]], *, progress: bool = True
    ) -> dict[str, list[str]]:
        """`interests` for many keys: key -> the titles of the user's history."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, model and prompt template version: recorded in every result."""

    def stats(self) -> dict[str, int]:
        """Counters: requests, calls (made to the backend), cached, replayed, retries (asks
        after a rejected answer), fallbacks, http_attempts (every HTTP request sent, transport
        retries included; 0 for backends without HTTP)."""
        return self._stats.as_dict()

    def close(self) -> None:  # noqa: B027 (optional hook: nothing to release by default)
        """Release connections and models."""

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
        self._failures = FailureStreak(settings.unavailable_after)

    def describe(self) -> dict[str, Any]:
        return {**self.backend.describe(), "prompt_version": PROMPT_VERSION}

    def stats(self) -> dict[str, int]:
        counters = getattr(self.backend, "counters", None)
        return {**super().stats(), **(counters() if counters is not None else {})}

    def close(self) -> None:
        self.backend.close()
        self.cache.close()

    def titles(
        self, requests: Mapping[str, Mapping[str, str]], *, progress: bool = True
    ) -> dict[str, str]:
        asks: dict[str, PendingAnswer | None] = {}
        for key, fields in requests.items():
            item_fields = _check_fields(key, fields)
            asks[key] = self._pending(
                TITLE_TASK,
                item_fields,
                prompts.title_messages(item_fields),
                answers.parse_title,
                lambda item_fields=item_fields: answers.fallback_title(item_fields),
            )
        return self._answer_all(TITLE_TASK, asks, "LLM titles", progress)

    def interests_many(
        self, requests: Mapping[str, list[str]], *, progress: bool = True
    ) -> dict[str, list[str]]:
        asks: dict[str, PendingAnswer | None] = {}
        for key, titles in requests.items():
            history = [str(title) for title in titles]
            asks[key] = None  # nothing to read interests from: no call
            if history:
                asks[key] = self._pending(
                    INTERESTS_TASK,
                    history,
                    prompts.interests_messages(history),
                    answers.parse_interests,
                    lambda history=history: answers.fallback_interests(history),
                )
        return self._answer_all(INTERESTS_TASK, asks, "LLM interests", progress)

    def _pending(
        self,
        task: str,
        task_input: Any,
        messages: list[Message],
        parse: Callable[[str], Any],
        fallback: Callable[[], Any],
    ) -> PendingAnswer:
        key = cache_key(
            self.backend.name,
            self.backend.identity,
            PROMPT_VERSION,
            task,
            task_input,
            endpoint=self._endpoint(),
        )
        return PendingAnswer(key, task_input, messages, parse, fallback)

    def _endpoint(self) -> str | None:
        return getattr(self.backend, "endpoint", None)

    def _answer_all(
        self, task: str, asks: dict[str, PendingAnswer | None], label: str, progress: bool
    ) -> dict:
        """The one answer path: every request of `task` (None: an empty history, answered
        [] with no call). Cached inputs are served first; the rest (each distinct input
        once) go to the backend (`_ask`), each group written to the cache when done."""
        results: dict[str, Any] = {}
        waiting: dict[str, PendingAnswer] = {}  # cache key -> the first request of that input
        duplicates: dict[str, list[str]] = {}  # cache key -> the request keys asking it
        bar = Progress(len(asks), desc=label, enabled=progress, unit="req")
        try:
            for request_key, pending in asks.items():
                if pending is None:
                    self._stats.add("requests")
                    self._stats.add("fallbacks")
                    results[request_key] = []
                    bar.update()
                    continue
                key = pending.key
                if key in waiting:
                    duplicates[key].append(request_key)  # answered once, then served cached
                    continue
                self._stats.add("requests")
                cached = self.cache.get(key)
                if cached is not None and not cached.fallback:  # an old cache's fallback: ask again
                    results[request_key] = self._served_from_cache(cached)
                    bar.update()
                    continue
                waiting[key] = pending
                duplicates[key] = [request_key]
            for group in self._ask(task, list(waiting.values())):
                for answer in group:
                    first, *repeats = duplicates[answer.key]
                    results[first] = answer.output
                    for request_key in repeats:
                        self._stats.add("requests")
                        results[request_key] = self._served_from_cache(
                            CachedAnswer(answer.output, answer.is_fallback)
                        )
                    bar.update(1 + len(repeats))
        finally:
            bar.close()
        return {request_key: results[request_key] for request_key in asks}

    def _ask(self, task: str, pending: list[PendingAnswer]) -> Iterator[list[PendingAnswer]]:
        """Answer `pending` (uncached, distinct inputs), yielding each group once answered and
        cached: groups of `batch_size` for a batch backend, else one request per group, run
        in parallel up to the backend's concurrency."""
        if isinstance(self.backend, BatchTextBackend):
            size = max(1, int(self.backend.batch_size))
            for start in range(0, len(pending), size):
                group = pending[start : start + size]
                self._ask_group(task, group)
                yield group
        elif self.concurrency <= 1 or len(pending) <= 1:
            for answer in pending:
                self._ask_group(task, [answer])
                yield [answer]
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                futures = [pool.submit(self._ask_group, task, [answer]) for answer in pending]
                for answer, future in zip(pending, futures, strict=True):
                    future.result()
                    yield [answer]

    def _complete(self, task: str, conversations: list[list[Message]]) -> list[str | None]:
        """The backend's raw answers: one batched call, or one call per conversation (None:
        that request failed at the transport level after the backend's retries)."""
        limits = LIMITS[task]
        options = {
            "max_tokens": limits.max_new_tokens,
            "stop": limits.stop,
            "answer_prefix": limits.answer_prefix,
        }
        if isinstance(self.backend, BatchTextBackend):
            return list(self.backend.complete_many(conversations, **options))
        return [self._complete_one(messages, options) for messages in conversations]

    def _complete_one(self, messages: list[Message], options: dict[str, Any]) -> str | None:
        self._failures.check()
        try:
            answer = self.backend.complete(messages, **options)
        except LLMTransportError as exc:
            self._failures.failed(str(exc))
            return None
        self._failures.succeeded()
        return answer

    def _ask_group(self, task: str, group: list[PendingAnswer]) -> None:
        """Answer every request of `group` (same task): one backend round per attempt, the
        unusable answers asked again, then the fallback; each real answer cached (a fallback
        is not)."""
        unanswered = list(group)
        failed: list[PendingAnswer] = []  # the transport failed: not asked again now
        for attempt in range(self.settings.parse_retries + 1):
            if not unanswered:
                break
            if attempt:
                self._stats.add("retries", len(unanswered))
            self._stats.add("calls", len(unanswered))
            raws = self._complete(task, [answer.messages for answer in unanswered])
            still_unanswered = []
            for answer, raw in zip(unanswered, raws, strict=True):
                if raw is None:
                    failed.append(answer)
                    continue
                answer.output = answer.parse(raw)
                if answer.output is None:
                    answer.messages = prompts.retry_messages(task, answer.messages, raw)
                    still_unanswered.append(answer)
            unanswered = still_unanswered
        for answer in [*unanswered, *failed]:
            self._stats.add("fallbacks")
            answer.output = answer.fallback()
            answer.is_fallback = True
        for answer in group:
            if answer.is_fallback:
                continue  # never cached: asked again on the next run
            self.cache.put(
                answer.key,
                task=task,
                backend=self.backend.name,
                model=_answered_by(self.backend.identity, self._endpoint()),
                prompt_version=PROMPT_VERSION,
                task_input=answer.task_input,
                output=answer.output,
                fallback=answer.is_fallback,
            )

    def _served_from_cache(self, cached: CachedAnswer) -> Any:
        self._stats.add("cached")
        if cached.fallback:
            self._stats.add("fallbacks")
        return cached.output


class FailureStreak:
    """Requests in a row that failed at the transport level: at `limit` (0: never) the next
    request raises `LLMUnavailable` instead of quietly falling back for every input."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._count = 0
        self._last = ""

    def check(self) -> None:
        with self._lock:
            if self.limit and self._count >= self.limit:
                raise LLMUnavailable(
                    f"{self._count} LLM requests in a row failed; the last: {self._last}"
                )

    def failed(self, problem: str) -> None:
        with self._lock:
            self._count += 1
            self._last = problem

    def succeeded(self) -> None:
        with self._lock:
            self._count = 0


def _answered_by(identity: str, endpoint: str | None) -> str:
    """The cache row's `model` column: the identity, and where it was served."""
    return f"{identity}@{endpoint}" if endpoint else identity


def _check_fields(key: str, fields: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(fields, Mapping) or not fields:
        raise LLMInputError(f"llm title {key!r}: needs a non-empty dict of item fields")
    return {str(name): str(value) for name, value in fields.items()}
