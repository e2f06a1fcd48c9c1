"""The replay backend: recorded answers only, a miss is an error."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from condensers.llm import ReplayMiss, ReplayTable, make_client


@dataclass
class Recorded:
    titles: dict
    interests: dict


def test_replay_answers_recorded_outputs_and_counts_them(tmp_path):
    table = ReplayTable.from_release(
        "ds", Recorded({0: "Toy Story is about toys."}, {7: ["comedy", "war"]})
    )
    client = make_client("replay", cache_dir=tmp_path, replay=table)
    assert client.title("ds/item/0", {"title": "ignored"}) == "Toy Story is about toys."
    assert client.interests("ds/user/7", ["ignored"]) == ["comedy", "war"]
    assert client.stats() == {
        "requests": 2,
        "calls": 0,
        "cached": 0,
        "replayed": 2,
        "retries": 0,
        "fallbacks": 0,
        "http_attempts": 0,
    }
    assert client.describe()["backend"] == "replay"


def test_a_replay_miss_is_an_error_not_a_fallback(tmp_path):
    table = ReplayTable.from_release("ds", Recorded({0: "x"}, {}))
    client = make_client("replay", cache_dir=tmp_path, replay=table)
    with pytest.raises(ReplayMiss, match="ds/item/1"):
        client.title("ds/item/1", {"title": "four rooms"})
    with pytest.raises(ReplayMiss, match="interests"):
        client.interests("ds/user/0", ["heat"])
    with pytest.raises(ReplayMiss):
        client.title("other/item/0", {"title": "x"})  # keys carry the dataset name
    assert client.stats()["replayed"] == 0


def test_replay_of_the_tfdcon_release(mirror, cache):
    from harness.data import release_llm_outputs

    outputs = release_llm_outputs("movielens-tfdcon", mirror=mirror, cache=cache)
    table = ReplayTable.from_release("movielens-tfdcon", outputs)
    client = make_client("replay", cache_dir=cache / "llm", replay=table)
    assert client.title("movielens-tfdcon/item/0", {}).startswith("Toy Story")
    assert client.title("movielens-tfdcon/item/1", {}).startswith("Four Rooms")
    assert client.interests("movielens-tfdcon/user/0", []) == [
        "comedy",
        "adventure",
        "absurdist humor",
        "crime thriller",
        "drama",
    ]
    assert "gpt-3.5" in client.describe()["model"]
