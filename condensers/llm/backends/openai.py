"""`openai` backend: any OpenAI-compatible /v1/chat/completions endpoint, over httpx.

Greedy decoding (temperature 0), a concurrency limit shared by all threads of the client,
and retries with exponential backoff on transport problems. Each HTTP attempt has a total
deadline, `timeout_s` (connect, send, headers and body together), not only httpx's
per-read timeout: a watchdog shuts the attempt's socket down when the deadline passes, so
a server that drips one byte a second fails at the deadline. Every attempt opens its own
connection (no keep-alive), so the watchdog always holds the socket it must cut.

Transport problems, retried up to `max_retries` times, then raised as `LLMTransportError`
(the client falls back for that request and does not cache it): the deadline, connection
errors, HTTP 408/409/425/429/5xx, and a body that cannot be read (bad gzip, over
MAX_RESPONSE_BYTES, not UTF-8, not JSON, not a chat completion). Other 4xx answers are not
retried: `LLMUnavailable` (a wrong key or model name is a setup error). Every HTTP attempt
is counted (`counters()["http_attempts"]`). The API key, if any, comes from
$CONDBENCH_LLM_API_KEY or $OPENAI_API_KEY and is never recorded.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from condensers.llm.errors import LLMTransportError, LLMUnavailable
from condensers.llm.prompts import Message
from condensers.llm.spec import is_loopback

API_KEY_VARIABLES = ("CONDBENCH_LLM_API_KEY", "OPENAI_API_KEY")
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 1 << 20  # decoded body; a bigger answer is a transport problem
CONNECT_EVENT = "connection.connect_tcp.complete"  # httpx's `trace` extension


class _Retry(Exception):
    """One attempt failed in a way worth retrying; the message says how."""


class Watchdog:
    """Shuts down the sockets an HTTP attempt opens once `seconds` have passed, which ends
    a read blocked on a dripping server at once. `trace` is the attempt's httpx trace hook."""

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != CONNECT_EVENT:
            return
        sock = info["return_value"].get_extra_info("socket")
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


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
        self._count_lock = threading.Lock()
        self._attempts = 0
        headers = {"Content-Type": "application/json"}
        api_key = next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
            trust_env=not _is_loopback_url(self.base_url),  # env proxies, never for loopback
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url}

    def counters(self) -> dict[str, int]:
        with self._count_lock:
            return {"http_attempts": self._attempts}

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
                    return self._attempt(url, body)
                except _Retry as exc:
                    problem = str(exc)
        raise LLMTransportError(f"LLM endpoint {url}: {problem} ({self.max_retries + 1} attempts)")

    def _attempt(self, url: str, body: dict[str, Any]) -> str:
        """One HTTP attempt within the deadline: the answer text, or `_Retry`."""
        with self._count_lock:
            self._attempts += 1
        watchdog = Watchdog(self.timeout_s)
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._http.stream(
                "POST", url, json=body, extensions={"trace": watchdog.trace}
            ) as response:
                data = _read_body(response, deadline)
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:  # connection, protocol, bad gzip
            if watchdog.fired or time.monotonic() >= deadline:
                raise _Retry(f"timed out after {self.timeout_s:g} s") from None
            raise _Retry(_transport_problem(exc)) from None
        finally:
            watchdog.cancel()
        if response.status_code in RETRYABLE_STATUS:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise LLMUnavailable(
                f"LLM endpoint {url}: HTTP {response.status_code}: {_excerpt(data)}"
            )
        return _answer_text(data)

    def close(self) -> None:
        self._http.close()


def _read_body(response: httpx.Response, deadline: float) -> bytes:
    """The decoded body, read chunk by chunk against the deadline and the size cap."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _Retry(f"answer body over {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
        if time.monotonic() >= deadline:
            raise httpx.ReadTimeout("deadline passed")
    return b"".join(chunks)


def _transport_problem(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.DecodingError):
        return f"undecodable body ({_one_line(exc)})"
    return f"connection failed ({type(exc).__name__}: {_one_line(exc)})"


def _answer_text(data: bytes) -> str:
    """The first choice's message content; a body that is not one is a `_Retry`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Retry("answer body is not UTF-8") from None
    try:
        content = json.loads(text)["choices"][0]["message"]["content"]
    except (ValueError, RecursionError):
        raise _Retry(f"answer body is not JSON ({_excerpt(data)})") from None
    except (KeyError, IndexError, TypeError):
        raise _Retry(f"not an OpenAI chat completion ({_excerpt(data)})") from None
    return content if isinstance(content, str) else ""


def _is_loopback_url(url: str) -> bool:
    return is_loopback(urlparse(url).hostname or "")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _excerpt(data: bytes, limit: int = 200) -> str:
    text = " ".join(data.decode("utf-8", errors="replace").split())
    return text if len(text) <= limit else text[:limit] + "..."
