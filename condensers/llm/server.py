"""A minimal OpenAI-compatible HTTP endpoint in front of a text backend (stdlib only).

Routes: POST /v1/chat/completions (non-streaming), GET /v1/models, GET /health. Meant for
loopback use (`condbench llm serve`): the local model becomes an endpoint the `openai`
backend, or any OpenAI client, can talk to. Decoding is the backend's own (greedy for the
local model): `temperature` and the like are accepted and ignored. `stop` is honoured, and
a trailing assistant message is continued (its text is not repeated in the answer).

Limits, each answered clearly: a body over MAX_BODY_BYTES (1 MiB) gets 413, JSON nested
deeper than MAX_JSON_DEPTH (32 levels) 400; a connection must deliver each request (line,
headers and body) within `read_deadline_s` (READ_DEADLINE_S, 10 s) of starting to wait for
it, or it is cut off (a client dripping bytes, or idling on keep-alive); at most
`max_connections` (MAX_CONNECTIONS, 16) are served at once, and one more is answered 503
(with Retry-After) and closed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from condensers.llm.client import TextBackend
from condensers.llm.errors import LLMSpecError
from condensers.llm.spec import is_loopback

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32
READ_DEADLINE_S = 10.0
MAX_CONNECTIONS = 16
REFUSE_LINGER_S = 0.2  # reading what a refused client sent, so the 503 is not lost to a reset
MAX_TOKENS_CAP = 512
DEFAULT_MAX_TOKENS = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def check_host(host: str, *, allow_remote: bool) -> None:
    """Refuse to listen beyond loopback unless explicitly allowed (no authentication here)."""
    if not allow_remote and not is_loopback(host):
        raise LLMSpecError(
            f"--host {host} is not a loopback address: the endpoint has no authentication; "
            "pass --allow-remote to serve it anyway"
        )


class RequestError(Exception):
    """A bad request: answered with `status` (400 unless said) and this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class CutOff(Exception):
    """The connection missed its read deadline: closed without an answer."""


class ConnectionDeadline:
    """Shuts a connection down `seconds` from now unless cancelled first."""

    def __init__(self, connection: socket.socket, seconds: float):
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class CompletionServer(ThreadingHTTPServer):
    """Serves one backend; `delay_s` holds each answer back (for timeout tests)."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        backend: TextBackend,
        *,
        delay_s: float = 0.0,
        read_deadline_s: float = READ_DEADLINE_S,
        max_connections: int = MAX_CONNECTIONS,
    ):
        super().__init__((host, port), CompletionHandler)
        self.backend = backend
        self.delay_s = delay_s
        self.read_deadline_s = read_deadline_s
        self.max_connections = max_connections
        self.request_numbers = itertools.count(1)
        self.backend_lock = threading.Lock()
        self._connections = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread, or refuse it (503) when all slots are taken."""
        if not self._connections.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def _refuse(self, request: socket.socket) -> None:
        message = f"over {self.max_connections} connections at once; retry later"
        body = json.dumps({"error": {"message": message, "type": "server_busy"}}).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(REFUSE_LINGER_S)
            request.sendall(head.encode("ascii") + body)
            request.shutdown(socket.SHUT_WR)
            _drain(request, REFUSE_LINGER_S)
        self.shutdown_request(request)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


def make_server(
    backend: TextBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8011,
    allow_remote: bool = False,
    delay_s: float = 0.0,
    read_deadline_s: float = READ_DEADLINE_S,
    max_connections: int = MAX_CONNECTIONS,
) -> CompletionServer:
    """Bind the server (port 0: a free port); refuses a non-loopback host unless allowed."""
    check_host(host, allow_remote=allow_remote)
    try:
        return CompletionServer(
            host,
            port,
            backend,
            delay_s=delay_s,
            read_deadline_s=read_deadline_s,
            max_connections=max_connections,
        )
    except OSError as exc:
        raise LLMSpecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


class CompletionHandler(BaseHTTPRequestHandler):
    server: CompletionServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.read_deadline_s  # each read, too (StreamRequestHandler)
        super().setup()

    def handle_one_request(self) -> None:
        """One request, read within the deadline (the wait for it included)."""
        self.deadline = ConnectionDeadline(self.connection, self.server.read_deadline_s)
        try:
            super().handle_one_request()
        except (OSError, CutOff):
            self.close_connection = True
        finally:
            self.deadline.cancel()
        if self.deadline.fired:
            self.close_connection = True
            self.log_message("cut off: no request within %g s", self.server.read_deadline_s)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.deadline.cancel()
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            model = {"id": self.server.backend.model, "object": "model", "owned_by": "condbench"}
            self._send(200, {"object": "list", "data": [model]})
        elif self.path.rstrip("/") == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send_error(404, f"no route {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_error(404, f"no route {self.path}")
            return
        try:
            messages, max_tokens, stop = self._read_request()
        except RequestError as exc:
            self._send_error(exc.status, str(exc))
            return
        self.deadline.cancel()  # read in time: generating may take longer
        prefix = ""
        if messages[-1]["role"] == "assistant":  # a started reply: continue it
            prefix = messages.pop()["content"]
        try:
            with self.server.backend_lock:
                answer = self.server.backend.complete(
                    messages, max_tokens=max_tokens, stop=stop, answer_prefix=prefix
                )
            text = answer[len(prefix) :] if prefix and answer.startswith(prefix) else answer
        except Exception as exc:  # the endpoint's boundary: report, keep serving
            self._send(
                500, {"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error"}}
            )
            return
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        self._send(200, self._completion(text))

    def _read_request(self) -> tuple[list[dict[str, str]], int, tuple[str, ...]]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise RequestError(f"body over {MAX_BODY_BYTES} bytes", status=413)
        if length <= 0:
            raise RequestError(f"body must be 1 to {MAX_BODY_BYTES} bytes of JSON")
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise CutOff  # the deadline cut the body short, or the client left
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise RequestError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise RequestError("body must be a JSON object")
        if body.get("stream"):
            raise RequestError("streaming is not supported")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list")
        for number, message in enumerate(messages):
            if (
                not isinstance(message, dict)
                or message.get("role") not in ("system", "user", "assistant")
                or not isinstance(message.get("content"), str)
            ):
                raise RequestError(f"messages[{number}] needs a role and a string content")
        max_tokens = body.get("max_tokens", DEFAULT_MAX_TOKENS)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise RequestError("'max_tokens' must be a positive integer")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
            raise RequestError("'stop' must be a string or a list of at most 4 strings")
        messages = [{"role": m["role"], "content": m["content"]} for m in messages]
        if len(messages) == 1 and messages[0]["role"] == "assistant":
            raise RequestError("'messages' needs a user message")
        return messages, min(max_tokens, MAX_TOKENS_CAP), tuple(stop)

    def _completion(self, text: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{next(self.server.request_numbers)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.server.backend.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    def _send_error(self, status: int, message: str) -> None:
        self.close_connection = True  # the request body may be unread
        self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"llm serve: {self.address_string()} {format % args}\n")


def json_depth(data: bytes) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), read without parsing."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", data)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _drain(connection: socket.socket, seconds: float) -> None:
    """Read and drop what the peer sends until it closes or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and connection.recv(65536):
        pass
