"""`condbench llm serve`'s limits over real loopback sockets (a fake text backend, so no
model): body size (413), JSON depth (400), a read deadline per connection (a client that
drips bytes is cut off), and a bounded number of concurrent connections (503)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from factories import FakeTextBackend

from condensers.llm.server import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    CompletionServer,
    json_depth,
    make_server,
)

READ_DEADLINE_S = 1.0
MAX_CONNECTIONS = 2
MARGIN_S = 0.6
GOOD_BODY = {"model": "m", "messages": [{"role": "user", "content": "[title]{heat}"}]}


@pytest.fixture
def server() -> Iterator[CompletionServer]:
    served = make_server(
        FakeTextBackend(), port=0, read_deadline_s=READ_DEADLINE_S, max_connections=MAX_CONNECTIONS
    )
    threading.Thread(target=served.serve_forever, daemon=True).start()
    yield served
    served.shutdown()
    served.server_close()


def _connect(server: CompletionServer) -> socket.socket:
    connection = socket.create_connection(server.server_address[:2], timeout=10)
    return connection


def _post_head(length: int) -> bytes:
    return (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode("ascii")


def _status_and_body(connection: socket.socket) -> tuple[int, dict]:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if body and body.count(b"{") == body.count(b"}"):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _closed_by_peer(connection: socket.socket) -> bool:
    try:
        return connection.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_good_request_is_answered(server):
    with httpx.Client(timeout=10, trust_env=False) as http:
        answer = http.post(f"{server.base_url}/chat/completions", json=GOOD_BODY)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"].startswith("[new_title]")


def test_an_oversized_body_is_413_before_it_is_read(server):
    with contextlib.closing(_connect(server)) as connection:
        connection.sendall(_post_head(MAX_BODY_BYTES + 1))  # the claim alone is refused
        status, body = _status_and_body(connection)
    assert status == 413
    assert body["error"]["message"] == f"body over {MAX_BODY_BYTES} bytes"


def test_json_nested_too_deep_is_400(server):
    deep = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    deep = deep[:-1] + ', "extra": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    assert json_depth(deep.encode()) == MAX_JSON_DEPTH + 1
    assert json_depth(b'{"a": "[[[[{{{{"}') == 1  # brackets inside strings do not count
    with httpx.Client(timeout=10, trust_env=False) as http:
        answer = http.post(
            f"{server.base_url}/chat/completions",
            content=deep.encode(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_dripping_client_is_cut_off_at_the_read_deadline(server, phase):
    body = json.dumps(GOOD_BODY).encode()
    request = _post_head(len(body)) + body
    sent_at_once = request.index(b"\r\n\r\n") + 4 if phase == "body" else 0
    with contextlib.closing(_connect(server)) as connection:
        started = time.monotonic()
        connection.sendall(request[:sent_at_once])
        cut = False
        for byte in request[sent_at_once:]:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                cut = True
                break
            time.sleep(0.25)
            if time.monotonic() - started > READ_DEADLINE_S + MARGIN_S:
                break
        connection.settimeout(READ_DEADLINE_S + MARGIN_S)
        cut = cut or _closed_by_peer(connection)
        elapsed = time.monotonic() - started
    assert cut
    assert elapsed < READ_DEADLINE_S + 2 * MARGIN_S


def test_an_idle_keep_alive_connection_is_closed_at_the_deadline(server):
    with contextlib.closing(_connect(server)) as connection:
        started = time.monotonic()
        connection.settimeout(READ_DEADLINE_S + MARGIN_S)
        assert _closed_by_peer(connection)
        assert time.monotonic() - started < READ_DEADLINE_S + MARGIN_S


def test_connections_beyond_the_limit_are_answered_503(server):
    held = [_connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        for connection in held:
            connection.sendall(b"POST /v1/chat")  # started, never finished: slots taken
        time.sleep(0.2)  # both accepted and in their handler threads
        with contextlib.closing(_connect(server)) as extra:
            extra.sendall(_post_head(2) + b"{}")
            status, body = _status_and_body(extra)
        assert status == 503 and "over 2 connections at once" in body["error"]["message"]
    finally:
        for connection in held:
            connection.close()
    time.sleep(0.2)  # the held connections' threads end and free their slots
    with httpx.Client(timeout=10, trust_env=False) as http:
        answer = http.post(f"{server.base_url}/chat/completions", json=GOOD_BODY)
    assert answer.status_code == 200
