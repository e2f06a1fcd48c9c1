"""TF-DCon's interest embeddings e_u: encoded once per content, then read from the cache."""

from __future__ import annotations

import numpy as np
import torch

from condensers.context import CondenseContext
from condensers.text_embeddings import CachedPooledEmbeddings
from recommenders.encoders import EMBEDDING_DIM, SentenceEncoder

GROUPS = [["science fiction", "space opera"], [], ["film noir"]]


class CountingEncoder(SentenceEncoder):
    """The sentence encoder's interface without its model: a fixed vector per string."""

    calls: int = 0

    def encode(self, texts):
        CountingEncoder.calls += 1
        rows = [np.random.default_rng(len(t) * 7919 + ord(t[0])).normal(size=EMBEDDING_DIM)
                for t in texts]  # fmt: skip
        return np.asarray(rows, dtype=np.float32).reshape(-1, EMBEDDING_DIM)


def test_groups_are_encoded_once_then_read_from_the_cache(tmp_path):
    CountingEncoder.calls = 0
    first = CachedPooledEmbeddings(tmp_path, CountingEncoder()).pooled(GROUPS)
    again = CachedPooledEmbeddings(tmp_path, CountingEncoder()).pooled(GROUPS)
    assert CountingEncoder.calls == 1
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(first, CountingEncoder().pooled(GROUPS))  # what encoding gives
    assert first.dtype == np.float32 and first.shape == (3, EMBEDDING_DIM)
    assert not first[1].any()  # no interests: the zero vector
    assert len(list((tmp_path / "text-embeddings").glob("*.npy"))) == 1


def test_the_key_holds_the_strings_in_order_the_batch_and_the_thread_count(tmp_path):
    cached = CachedPooledEmbeddings(tmp_path, CountingEncoder())
    paths = {
        cached.path(GROUPS),
        cached.path(GROUPS[::-1]),
        cached.path([["science fiction", "space opera"], [], ["film noire"]]),
        CachedPooledEmbeddings(tmp_path, CountingEncoder(batch_size=32)).path(GROUPS),
    }
    previous = torch.get_num_threads()
    torch.set_num_threads(1 if previous != 1 else 2)
    try:
        paths.add(cached.path(GROUPS))
    finally:
        torch.set_num_threads(previous)
    assert len(paths) == 5


def test_an_altered_entry_is_encoded_again(tmp_path, capsys):
    CountingEncoder.calls = 0
    cached = CachedPooledEmbeddings(tmp_path, CountingEncoder())
    first = cached.pooled(GROUPS)
    path = cached.path(GROUPS)
    path.write_bytes(path.read_bytes()[:-8])
    np.testing.assert_array_equal(cached.pooled(GROUPS), first)
    assert CountingEncoder.calls == 2
    assert "rebuilding" in capsys.readouterr().err


def test_the_context_caches_its_own_encoder_and_not_a_handed_in_one(tmp_path, monkeypatch):
    CountingEncoder.calls = 0
    handed_in = CondenseContext(
        cache_dir=tmp_path, progress=False, sentence_encoder=CountingEncoder()
    )
    handed_in.pooled_text_embeddings(GROUPS)
    handed_in.pooled_text_embeddings(GROUPS)
    assert CountingEncoder.calls == 2 and not (tmp_path / "text-embeddings").exists()
    monkeypatch.setattr("condensers.context.SentenceEncoder", CountingEncoder)
    CountingEncoder.calls = 0
    for _ in range(2):  # one context per condensation, as the grid runner makes them
        CondenseContext(cache_dir=tmp_path, progress=False).pooled_text_embeddings(GROUPS)
    assert CountingEncoder.calls == 1
