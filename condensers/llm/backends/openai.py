"""`openai` backend: any OpenAI-compatible /v1/chat/completions endpoint, over httpx.

Greedy decoding (temperature 0), a concurrency limit shared by all threads of the client,
a timeout per request, and retries with exponential backoff on timeouts, connection errors,
429 and 5xx. Other 4xx answers are not retried. The API key, if any, comes from
$CONDBENCH_LLM_API_KEY or $OPENAI_API_KEY and is never recorded.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from condensers.llm.errors import LLMUnavailable
from condensers.llm.prompts import Message
from condensers.llm.spec import is_loopback

API_KEY_VARIABLES = ("CONDBENCH_LLM_API_KEY", "OPENAI_API_KEY")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        timeout_s: float,
        max_retries: int,
        backoff_s: float,
        concurrency: int,
    ):
        self.model = model
        self.identity = model
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url  # in the cache key: two URLs never share answers
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(concurrency)
        headers = {"Content-Type": "application/json"}
        api_key = next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            limits=httpx.Limits(max_connections=concurrency),
            trust_env=not _is_loopback_url(
                self.base_url
            ),  # proxies from the env, never for loopback
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url}

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        stop: tuple[str, ...] = (),
        answer_prefix: str = "",
    ) -> str:
        """One chat completion. `answer_prefix` is not sent: the chat API has no portable way
        to continue a reply, and capable models follow the format from the examples."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        if stop:
            body["stop"] = list(stop)[:4]
        url = f"{self.base_url}/chat/completions"
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            with self._slots:
                try:
                    response = self._http.post(url, json=body)
                except httpx.TimeoutException:
                    problem = f"timed out after {self.timeout_s:g} s"
                    continue
                except httpx.TransportError as exc:
                    problem = f"connection failed ({type(exc).__name__}: {exc})"
                    continue
            if response.status_code in RETRYABLE_STATUS:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise LLMUnavailable(
                    f"LLM endpoint {url}: HTTP {response.status_code}: {_excerpt(response.text)}"
                )
            return _answer_text(url, response)
        raise LLMUnavailable(f"LLM endpoint {url}: {problem} ({self.max_retries + 1} attempts)")

    def close(self) -> None:
        self._http.close()


def _answer_text(url: str, response: httpx.Response) -> str:
    """The first choice's message content; a malformed body is an endpoint error."""
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMUnavailable(
            f"LLM endpoint {url}: not an OpenAI chat completion ({_excerpt(response.text)})"
        ) from exc
    return content if isinstance(content, str) else ""


def _is_loopback_url(url: str) -> bool:
    return is_loopback(urlparse(url).hostname or "")


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
