"""The backend registry and `make_client(spec, cache_dir=..., replay=...)`.

Each backend module provides one builder: (parsed spec, cache, replay table, settings) ->
LLMClient. A new backend is one module plus one entry in BUILDERS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from condensers.llm.backends.local import LocalBackend
from condensers.llm.backends.replay import ReplayClient, ReplayTable
from condensers.llm.cache import ResponseCache
from condensers.llm.client import ClientSettings, GeneratingClient, LLMClient
from condensers.llm.errors import LLMSpecError
from condensers.llm.model_files import default_model_path
from condensers.llm.spec import LLMSpec, parse_spec

Builder = Callable[[LLMSpec, Path, "ReplayTable | None", ClientSettings], LLMClient]


def _build_replay(
    spec: LLMSpec, cache_dir: Path, replay: ReplayTable | None, settings: ClientSettings
) -> LLMClient:
    if replay is None:
        raise LLMSpecError(
            "llm spec 'replay' answers only from recorded outputs, and none were given "
            "(the TF-DCon release datasets ship them); use --llm local or openai:MODEL@URL"
        )
    return ReplayClient(replay)


def _build_openai(
    spec: LLMSpec, cache_dir: Path, replay: ReplayTable | None, settings: ClientSettings
) -> LLMClient:
    # lazy: httpx takes ~0.1 s to import; only an openai: spec needs it
    from condensers.llm.backends.openai import OpenAIBackend

    backend = OpenAIBackend(
        spec.model or "",
        spec.base_url or "",
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backoff_s=settings.backoff_s,
        concurrency=settings.concurrency,
    )
    return GeneratingClient(backend, ResponseCache(cache_dir), settings)


def _build_local(
    spec: LLMSpec, cache_dir: Path, replay: ReplayTable | None, settings: ClientSettings
) -> LLMClient:
    path = spec.model_path or default_model_path()
    return GeneratingClient(LocalBackend(path), ResponseCache(cache_dir), settings)


BUILDERS: dict[str, Builder] = {
    "replay": _build_replay,
    "openai": _build_openai,
    "local": _build_local,
}


def make_client(
    spec: str,
    *,
    cache_dir: Path,
    replay: ReplayTable | None = None,
    settings: ClientSettings | None = None,
) -> LLMClient:
    """The client for `spec` (replay, local, local:PATH, openai:MODEL@URL).

    `cache_dir` holds the response cache (`cache.sqlite`), usually `<cache root>/llm`;
    `replay` is required for the replay backend only.
    """
    parsed = parse_spec(spec)
    return BUILDERS[parsed.backend](parsed, Path(cache_dir), replay, settings or ClientSettings())
