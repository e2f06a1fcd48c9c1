"""The SQLite response cache: keys, persistence, and concurrent writers."""

from __future__ import annotations

import threading

from condensers.llm.cache import CACHE_FILE, ResponseCache, cache_key


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
