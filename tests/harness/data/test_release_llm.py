"""Replay material: the release's LLM outputs keyed by our item and user ids."""

from __future__ import annotations

import pytest

from harness.data import load_dataset, release_llm_outputs
from harness.text import get_tokenizer


@pytest.fixture(scope="module")
def outputs(mirror, session_cache):
    return release_llm_outputs("movielens-tfdcon", mirror=mirror, cache=session_cache)


def test_titles_are_keyed_by_release_item_id(outputs, mirror, session_cache):
    condensed = load_dataset(
        "movielens-tfdcon", variant="condensed", mirror=mirror, cache=session_cache
    )
    summary = condensed.items.set_index("item_id")["sum"]
    tokenizer = get_tokenizer()
    assert sorted(outputs.titles) == list(range(1682))
    # the csv's id column is the MovieLens-100K id: Toy Story 1, Four Rooms 3
    assert outputs.source_item_ids[0] == 1
    assert outputs.source_item_ids[1] == 3
    assert outputs.titles[1].startswith("Four Rooms")
    # every csv row k begins with the (truncated) release summary of item k
    for item_id, text in outputs.titles.items():
        tokens = list(summary[item_id])
        assert tokenizer.encode(text)[: len(tokens)] == tokens, item_id


def test_interests_are_keyed_by_release_user_id(outputs, mirror, session_cache):
    condensed = load_dataset(
        "movielens-tfdcon", variant="condensed", mirror=mirror, cache=session_cache
    )
    summary = condensed.items.set_index("item_id")["sum"]
    history = condensed.history_of()
    tokenizer = get_tokenizer()
    assert sorted(outputs.interests) == sorted(history)

    def overlap(shift: int) -> float:
        hits = total = 0
        for user in range(1, 200):
            text = " ".join(tokenizer.decode(summary[i]) for i in history[user + shift])
            for interest in outputs.interests[user]:
                total += 1
                hits += any(word in text for word in interest.lower().split())
        return hits / total

    assert overlap(0) > 2 * max(overlap(1), overlap(-1))


def test_goodreads_outputs_cover_every_book(mirror, session_cache):
    goodreads = release_llm_outputs("goodreads-tfdcon", mirror=mirror, cache=session_cache)
    assert len(goodreads.titles) == 16833
    assert len(goodreads.interests) == 23089
