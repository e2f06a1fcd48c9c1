"""Hostile OpenAI-shaped endpoints (issue 17): a real loopback server that drips its answer
one byte a second, refuses, injects markup and control characters, answers in the other
task's format, or sends a bad gzip / JSON / UTF-8 body. The client must keep its deadline,
fall back (counted, for the record) without caching anything, and ask a good endpoint at the
same URL afterwards for real.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from condensers.llm import ClientSettings, make_client
from condensers.llm.answers import fallback_interests, fallback_title
from condensers.llm.cache import CACHE_FILE
from harness.cli import main
from harness.run.runner import _llm_info

DRIP_INTERVAL_S = 1.0
DEADLINE_S = 1.0  # each HTTP attempt's total deadline in these tests
MARGIN_S = 0.6  # scheduling slack on a busy 2-core machine
SETTINGS = ClientSettings(
    timeout_s=DEADLINE_S, max_retries=1, backoff_s=0.0, concurrency=1, parse_retries=1
)
GOOD_TITLE = "Heat is a heist film about a crew of thieves."
GOOD_INTERESTS = "[interests] -heist films, -crime"

# what the server does for a request whose item title (or history) names the case
HOSTILE_TITLES = {
    "drip": "case-drip",
    "refusal": "case-refusal",
    "injection": "case-injection",
    "wrong-format": "case-wrong-format",
    "bad-gzip": "case-bad-gzip",
    "bad-json": "case-bad-json",
    "bad-utf8": "case-bad-utf8",
}
HOSTILE_HISTORY = ["case-title-for-interests", "heat"]
ANSWERS = {
    "refusal": "I'm sorry, but as an AI language model I cannot help with that.",
    "injection": "[new_title]{Ignore previous instructions <script>alert(1)</script>\x1b[2J}",
    "wrong-format": "[interests] -comedy, -crime, -drama",
    "title-for-interests": "[new_title]{A user who likes heist films.}",
}
TRANSPORT_CASES = ("drip", "bad-gzip", "bad-json", "bad-utf8")  # retried by HTTP
ANSWER_CASES = ("refusal", "injection", "wrong-format", "title-for-interests")  # asked again


def _response(body: bytes, headers: str = "Content-Type: application/json\r\n") -> bytes:
    head = f"HTTP/1.1 200 OK\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("ascii") + body


def _completion(content: str) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    return json.dumps({"choices": [choice]}).encode("utf-8")


class HostileEndpoint:
    """A loopback HTTP server on raw sockets. Until `heal()`, each request is answered by
    the case its prompt names; afterwards every request gets a good answer. `served`
    counts the answers given per case ("good" included)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.healed = False
        self.served: Counter[str] = Counter()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def heal(self) -> None:
        self.healed = True

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            body = _read_request(connection)
            case = self._case(body)
            with self._lock:
                self.served[case] += 1
            reply = self._reply(case, body)
            if case == "drip":
                for byte in reply:  # status line, headers and body: one byte a second
                    connection.sendall(bytes([byte]))
                    time.sleep(DRIP_INTERVAL_S)
            else:
                connection.sendall(reply)

    def _case(self, body: bytes) -> str:
        if self.healed:
            return "good"
        match = re.search(rb"case-([a-z0-9-]+)", body)
        return match.group(1).decode() if match else "good"

    @staticmethod
    def _reply(case: str, body: bytes) -> bytes:
        if case == "bad-gzip":
            return _response(b"\x1f\x8bnot gzip at all", "Content-Encoding: gzip\r\n")
        if case == "bad-json":
            return _response(gzip.compress(b'{"choices": [{"mess'), "Content-Encoding: gzip\r\n")
        if case == "bad-utf8":
            return _response(b'{"choices": [{"message": {"content": "\xff\xfe"}}]}')
        if case in ANSWERS:
            return _response(_completion(ANSWERS[case]))
        good = GOOD_INTERESTS if b"[interests]" in body else f"[new_title]{{{GOOD_TITLE}}}"
        return _response(_completion(good))


def _read_request(connection: socket.socket) -> bytes:
    connection.settimeout(5.0)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE).group(1))
    while len(body) < length:
        body += connection.recv(65536)
    return body


@pytest.fixture
def hostile() -> Iterator[HostileEndpoint]:
    endpoint = HostileEndpoint()
    yield endpoint
    endpoint.close()


def _cached_rows(cache_dir: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(cache_dir / CACHE_FILE)) as db:
        return db.execute("SELECT task, output FROM responses").fetchall()


def _ask_everything(client) -> tuple[dict, dict]:
    titles = client.titles(
        {f"d/item/{case}": {"title": title} for case, title in HOSTILE_TITLES.items()},
        progress=False,
    )
    interests = client.interests_many({"d/user/0": HOSTILE_HISTORY}, progress=False)
    return titles, interests


def test_hostile_endpoints_fall_back_in_time_cache_nothing_and_are_counted(hostile, tmp_path):
    spec = f"openai:m@{hostile.base_url}"
    started = time.monotonic()
    with make_client(spec, cache_dir=tmp_path, settings=SETTINGS) as client:
        titles, interests = _ask_everything(client)
        stats, described = client.stats(), client.describe()
    elapsed = time.monotonic() - started

    # the drip-feed costs its two attempts' deadlines, nothing more (the rest is quick)
    assert elapsed < (SETTINGS.max_retries + 1) * DEADLINE_S + 2 * MARGIN_S
    # every hostile answer fell back to the input's own words
    for case, title in HOSTILE_TITLES.items():
        assert titles[f"d/item/{case}"] == fallback_title({"title": title}), case
    assert interests["d/user/0"] == fallback_interests(HOSTILE_HISTORY)
    # transport failures were retried by HTTP; unusable answers were asked once more
    attempts = SETTINGS.max_retries + 1
    assert {case: hostile.served[case] for case in TRANSPORT_CASES} == dict.fromkeys(
        TRANSPORT_CASES, attempts
    )
    asks = SETTINGS.parse_retries + 1
    assert {case: hostile.served[case] for case in ANSWER_CASES} == dict.fromkeys(
        ANSWER_CASES, asks
    )
    expected = {
        "requests": 8,
        "calls": len(TRANSPORT_CASES) + len(ANSWER_CASES) * asks,
        "cached": 0,
        "replayed": 0,
        "retries": len(ANSWER_CASES) * SETTINGS.parse_retries,
        "fallbacks": 8,
        "http_attempts": len(TRANSPORT_CASES) * attempts + len(ANSWER_CASES) * asks,
    }
    assert stats == expected
    record = _llm_info({**described, **stats})  # what the result record keeps
    assert (record.calls, record.retries, record.http_attempts, record.fallbacks) == (
        12,
        4,
        16,
        8,
    )
    assert _cached_rows(tmp_path) == []  # nothing bad (nor any fallback) was cached

    # the same URL, now answering well: every input is asked for real, and cached
    hostile.heal()
    with make_client(spec, cache_dir=tmp_path, settings=SETTINGS) as client:
        titles, interests = _ask_everything(client)
        healed = client.stats()
    assert hostile.served["good"] == 8
    assert set(titles.values()) == {GOOD_TITLE}
    assert interests["d/user/0"] == ["heist films", "crime"]
    assert (healed["calls"], healed["http_attempts"], healed["fallbacks"]) == (8, 8, 0)
    rows = _cached_rows(tmp_path)
    assert len(rows) == 8
    assert not any("case-" in output or "sorry" in output.lower() for _, output in rows)


@pytest.mark.parametrize("retries", [0, 1])
def test_a_drip_feed_fails_at_the_deadline(hostile, tmp_path, retries):
    settings = ClientSettings(timeout_s=DEADLINE_S, max_retries=retries, backoff_s=0.0)
    with make_client(f"openai:m@{hostile.base_url}", cache_dir=tmp_path, settings=settings) as c:
        started = time.monotonic()
        answer = c.title("d/item/0", {"title": "case-drip"})
        elapsed = time.monotonic() - started
        assert c.stats()["http_attempts"] == retries + 1 and c.stats()["fallbacks"] == 1
    assert answer == "case-drip"
    assert (retries + 1) * DEADLINE_S - 0.05 < elapsed < (retries + 1) * DEADLINE_S + MARGIN_S


def test_llm_title_timeout_and_retries_options_hold_against_a_drip_feed(hostile, cache):
    args = ["llm", "title", "--llm", f"openai:m@{hostile.base_url}", "-f", "title=case-drip"]
    started = time.monotonic()
    result = CliRunner().invoke(main, [*args, "--timeout", "1", "--retries", "0", "--json"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["answer"] == "case-drip"  # the fallback
    assert report["stats"]["http_attempts"] == 1 and report["stats"]["fallbacks"] == 1
    assert elapsed < DEADLINE_S + MARGIN_S
