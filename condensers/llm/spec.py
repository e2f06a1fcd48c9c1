"""Parse an `--llm` spec: `replay`, `local`, `local:PATH_TO_GGUF`, `openai:MODEL@BASE_URL`."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from condensers.llm.errors import LLMSpecError
from harness.typed import Strict

SPEC_HELP = "replay, local, local:PATH_TO_GGUF or openai:MODEL@BASE_URL"


class LLMSpec(Strict):
    """A parsed spec: which backend, and its model name, file or endpoint."""

    backend: Literal["replay", "local", "openai"]
    model: str | None = None
    base_url: str | None = None
    model_path: Path | None = None


def parse_spec(text: str) -> LLMSpec:
    """Split a spec into its parts; a readable LLMSpecError names what is wrong."""
    spec = (text or "").strip()
    backend, _, rest = spec.partition(":")
    if backend == "replay" and not rest:
        return LLMSpec(backend="replay")
    if backend == "local":
        if not rest:
            return LLMSpec(backend="local")
        return LLMSpec(backend="local", model_path=Path(rest).expanduser())
    if backend == "openai":
        model, at, base_url = rest.partition("@")
        if not at or not model or not base_url:
            raise LLMSpecError(
                f"llm spec {spec!r}: openai needs a model and a base URL, e.g. "
                "openai:smollm2@http://127.0.0.1:8011/v1"
            )
        url = urlparse(base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise LLMSpecError(f"llm spec {spec!r}: base URL {base_url!r} is not an http(s) URL")
        return LLMSpec(backend="openai", model=model, base_url=base_url.rstrip("/"))
    raise LLMSpecError(f"llm spec {spec!r} is not one of: {SPEC_HELP}")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
