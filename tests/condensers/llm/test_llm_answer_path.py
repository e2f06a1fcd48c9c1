"""One answer path: a single request is a batch of one, whatever the backend's grouping.

`title`/`interests` go through `titles`/`interests_many` (cache, backend, parse, retry,
fallback, counters); a backend without batching gets one prompt per call, in parallel up to
its concurrency, with repeated inputs asked once, as a batching backend gets them.
"""

from __future__ import annotations

import threading

from factories import FakeTextBackend, fake_llm_client

from condensers.llm import ReplayClient, ReplayTable
from condensers.llm.prompts import INTERESTS_TASK, TITLE_TASK

TITLES = {f"d/item/{n}": {"title": f"movie number {n % 4}", "year": "1995"} for n in range(10)}


class CountingBackend(FakeTextBackend):
    """The fake backend with a concurrency above 1 (as openai's) and an in-flight count."""

    concurrency = 3

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0

    def complete(self, messages, **options):
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            threading.Event().wait(0.01)
            return super().complete(messages, **options)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_a_single_request_is_a_batch_of_one(tmp_path):
    single_backend, many_backend = FakeTextBackend(), FakeTextBackend()
    single = fake_llm_client(tmp_path / "single", single_backend)
    many = fake_llm_client(tmp_path / "many", many_backend)
    one_by_one = {key: single.title(key, fields) for key, fields in TITLES.items()}
    assert many.titles(TITLES, progress=False) == one_by_one
    assert single.interests("d/user/1", ["heat", "ronin"]) == many.interests_many(
        {"d/user/1": ["heat", "ronin"]}, progress=False
    )["d/user/1"]
    assert single.interests("d/user/2", []) == []  # nothing to ask: no call, a fallback
    many.interests("d/user/2", [])
    assert single.stats() == many.stats()
    assert sorted(single_backend.prompts_seen) == sorted(many_backend.prompts_seen)
    assert single.stats()["calls"] == 4 + 1  # 4 distinct titles, one interest list


def test_parallel_backend_asks_each_input_once_and_keeps_the_order(tmp_path):
    backend = CountingBackend()
    client = fake_llm_client(tmp_path, backend)
    answers = client.titles(TITLES, progress=False)
    assert list(answers) == list(TITLES)
    assert len(backend.prompts_seen) == 4  # 10 requests, 4 distinct inputs
    assert 1 < backend.max_in_flight <= 3
    assert client.stats()["requests"] == 10 and client.stats()["cached"] == 6
    again = fake_llm_client(tmp_path, FakeTextBackend())
    assert again.titles(TITLES, progress=False) == answers  # same cache keys
    assert again.stats()["calls"] == 0


def test_replay_single_and_many_agree():
    table = ReplayTable(
        entries={(TITLE_TASK, "ds/item/0"): "A title.", (INTERESTS_TASK, "ds/user/0"): ["war"]}
    )
    client = ReplayClient(table)
    assert client.title("ds/item/0", {}) == client.titles({"ds/item/0": {}})["ds/item/0"]
    assert client.interests("ds/user/0", []) == ["war"]
    assert client.interests_many({"ds/user/0": []}) == {"ds/user/0": ["war"]}
    assert client.stats()["replayed"] == 4 and client.stats()["calls"] == 0
