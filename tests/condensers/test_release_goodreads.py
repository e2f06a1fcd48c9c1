"""The TF-DCon release's Goodreads sets, and the item texts that measure its content level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.registry import make
from condensers.release import random_tokens_like
from harness.data import load_dataset, release_llm_outputs
from harness.errors import ConfigError
from harness.text import get_tokenizer

DATASET = "goodreads-tfdcon"


@pytest.fixture(scope="module")
def reference(mirror, session_cache):
    return load_dataset(DATASET, mirror=mirror, cache=session_cache)


@pytest.fixture
def ctx(session_cache, mirror, monkeypatch):
    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    return CondenseContext(cache_dir=session_cache, progress=False)


def _condense(entry: str, reference, ctx, seed: int = 0, **params):
    condenser = make(entry, params) if params else make(entry)
    return condenser.condense(reference, Budget.parse("27%"), np.random.default_rng(seed), ctx)


@pytest.mark.parametrize(
    ("entry", "users", "rows"),
    [("release-random", 3813, 40327), ("release-majority", 2350, 46144),
     ("release-tfdcon", 4190, 45513)],
)  # fmt: skip
def test_release_sets_train_on_their_own_text_and_the_original_dev_and_test(
    reference, ctx, entry, users, rows
):
    small = _condense(entry, reference, ctx)
    train = small.split("train")
    assert len(train) == rows and train["user_id"].nunique() == users
    assert (train["label"] == 1).all()  # positives only: negatives come from the catalogue
    assert small.meta["negatives_from"] == "catalogue"
    for split in ("dev", "test"):
        assert small.split(split).equals(reference.split(split))


def test_the_three_item_texts_keep_the_same_users(reference, ctx):
    """original = title + description; llm-titles = the released set's own text; random
    tokens: an in-order subset of each item's original tokens, as long as its LLM title."""
    released = _condense("release-tfdcon", reference, ctx)
    texts = {
        name: _condense("release-tfdcon", reference, ctx, item_text=name)
        for name in ("original", "llm-titles", "random-tokens")
    }
    for small in texts.values():
        assert small.split("train").equals(released.split("train"))
        assert small.histories.equals(released.histories)
    assert texts["original"].text_fields == ("title", "desc")
    assert texts["original"].items.equals(reference.items)
    assert texts["llm-titles"].items.equals(released.items)

    titles = released.items.set_index("item_id")["sum"]
    original = reference.items.set_index("item_id")
    cut = texts["random-tokens"].items.set_index("item_id")["text"]
    for item_id in range(0, 16833, 97):
        whole = list(original.at[item_id, "title"]) + list(original.at[item_id, "desc"])
        tokens = list(cut[item_id])
        assert len(tokens) == min(len(titles[item_id]), len(whole))
        position = iter(whole)  # an in-order subsequence of the item's own tokens
        assert all(token in position for token in tokens)
    again = _condense("release-tfdcon", reference, ctx, item_text="random-tokens")
    other = _condense("release-tfdcon", reference, ctx, seed=1, item_text="random-tokens")
    assert again.items.equals(texts["random-tokens"].items)
    assert not other.items.equals(texts["random-tokens"].items)


def test_the_released_llm_titles_are_the_replayed_ones(mirror, session_cache, reference):
    """condensed.npy holds the gpt-3.5 titles of raw_data/content_condensation.csv, cut to
    20 WordPiece tokens, for every one of the 16,833 books."""
    condensed = load_dataset(DATASET, variant="condensed", cache=session_cache)
    titles = release_llm_outputs(DATASET, mirror=mirror, cache=session_cache).titles
    ids = condensed.items["item_id"].tolist()
    replayed = get_tokenizer().encode_many([titles[i] for i in ids])
    assert [list(t[:20]) for t in replayed] == [list(t) for t in condensed.items["sum"]]


def test_random_tokens_like_matches_each_length_and_keeps_short_items_whole():
    items = pd.DataFrame({"item_id": [3, 5], "a": [[1, 2, 3], [7]], "b": [[4, 5, 6], [8]]})
    lengths = pd.Series({3: 4, 5: 9})
    cut = random_tokens_like(items, ("a", "b"), lengths, np.random.default_rng(0))
    first, second = cut["text"].tolist()
    assert len(first) == 4 and first == sorted(first)  # in order, from 1..6
    assert set(first) <= {1, 2, 3, 4, 5, 6} and second == [7, 8]


def test_unknown_item_text_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="item_text.*released"):
        make("release-tfdcon", {"item_text": "titles"})
