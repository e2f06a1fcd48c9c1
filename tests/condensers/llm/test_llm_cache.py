"""The SQLite response cache: keys (the endpoint's part; the committed local cache still
answers), persistence, fallbacks asked again, and concurrent writers."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import threading
from pathlib import Path

from factories import FakeTextBackend

from condensers.llm.cache import CACHE_FILE, CachedAnswer, ResponseCache, cache_key
from condensers.llm.client import ClientSettings, GeneratingClient
from condensers.llm.prompts import PROMPT_VERSION

REPO = Path(__file__).resolve().parents[3]


def _put(cache: ResponseCache, key: str, output, fallback=False) -> None:
    cache.put(
        key,
        task="title",
        backend="b",
        model="m",
        prompt_version="v",
        task_input={"t": 1},
        output=output,
        fallback=fallback,
    )


def test_key_changes_with_every_part():
    base = ("openai", "m", "v1", "title", {"title": "x"})
    keys = {
        cache_key(*base),
        cache_key("local", *base[1:]),
        cache_key("openai", "m2", *base[2:]),
        cache_key("openai", "m", "v2", *base[3:]),
        cache_key("openai", "m", "v1", "interests", base[4]),
        cache_key("openai", "m", "v1", "title", {"title": "y"}),
    }
    assert len(keys) == 6
    assert cache_key(*base) == cache_key("openai", "m", "v1", "title", {"title": "x"})


def test_answers_survive_a_new_cache_object(tmp_path):
    cache = ResponseCache(tmp_path)
    _put(cache, "k1", "a title")
    _put(cache, "k2", ["x", "y"], fallback=True)
    cache.close()
    again = ResponseCache(tmp_path)
    assert (tmp_path / CACHE_FILE).is_file()
    assert again.get("k1").output == "a title" and not again.get("k1").fallback
    assert again.get("k2").output == ["x", "y"] and again.get("k2").fallback
    assert again.get("missing") is None


def test_many_threads_write_one_cache(tmp_path):
    cache = ResponseCache(tmp_path)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for number in range(25):
                _put(cache, f"{thread}-{number}", f"answer {thread} {number}")
                assert cache.get(f"{thread}-{number}").output == f"answer {thread} {number}"
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert cache.count() == 150


def test_the_endpoint_is_part_of_the_key_only_when_there_is_one():
    base = ("openai", "m", "v1", "title", {"title": "x"})
    at_one = cache_key(*base, endpoint="http://127.0.0.1:1/v1")
    at_two = cache_key(*base, endpoint="http://127.0.0.1:2/v1")
    assert len({at_one, at_two, cache_key(*base)}) == 3
    assert cache_key(*base, endpoint=None) == cache_key(*base)  # no URL: the older key


def test_committed_local_llm_cache_keys_are_unchanged(tmp_path):
    """Every row of results/llm-cache/*.sqlite (local backend: no endpoint) is found under
    the key today's code computes, so `condbench verify` replays it with no LLM call. Read
    from a copy: SQLite writes -wal/-shm files beside a WAL database, even read-only."""
    files = sorted((REPO / "results" / "llm-cache").glob("*.sqlite"))
    assert files
    for source in files:
        path = shutil.copyfile(source, tmp_path / source.name)
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute(
                "SELECT key, backend, model, prompt_version, task, input FROM responses"
            ).fetchall()
        assert rows
        for key, backend, model, version, task, task_input in rows:
            assert cache_key(backend, model, version, task, json.loads(task_input)) == key


class CommittedModel(FakeTextBackend):
    """A backend with the committed cache's local identity; fails the test if asked."""

    name = "local"
    endpoint = None

    def __init__(self, identity: str) -> None:
        super().__init__()
        self.identity = identity

    def complete(self, messages, **options):
        raise AssertionError("the committed cache should have answered")


def test_the_committed_local_cache_answers_with_no_call(tmp_path):
    source = REPO / "results" / "llm-cache" / "movielens-local-llm.sqlite"
    shutil.copyfile(source, tmp_path / CACHE_FILE)
    with contextlib.closing(sqlite3.connect(tmp_path / CACHE_FILE)) as db:
        rows = db.execute(
            "SELECT model, task, input, output FROM responses ORDER BY key LIMIT 40"
        ).fetchall()
    client = GeneratingClient(CommittedModel(rows[0][0]), ResponseCache(tmp_path), ClientSettings())
    for _, task, task_input, output in rows:
        if task == "title":
            answer = client.title("k", json.loads(task_input))
        else:
            answer = client.interests("k", json.loads(task_input))
        assert answer == json.loads(output)
    assert client.stats()["calls"] == 0 and client.stats()["cached"] == len(rows)


def test_a_fallback_row_of_an_older_cache_is_asked_again(tmp_path):
    backend = FakeTextBackend()
    client = GeneratingClient(backend, ResponseCache(tmp_path), ClientSettings())
    fields = {"title": "heat"}
    key = cache_key("fake", "fake-1", PROMPT_VERSION, "title", fields)
    client.cache.put(key, task="title", backend="fake", model="fake-1",
                     prompt_version=PROMPT_VERSION, task_input=fields, output="heat",
                     fallback=True)  # fmt: skip
    assert client.title("d/item/0", fields) == "About title heat"
    assert client.stats()["calls"] == 1 and client.stats()["fallbacks"] == 0
    assert client.cache.get(key) == CachedAnswer("About title heat", fallback=False)
