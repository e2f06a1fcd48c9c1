"""z_u from a recommender trained on Original, cached under <cache>/embeddings by content hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
from condenser_fixtures import USERS, handmade_dataset

from condensers.user_embeddings import RecommenderUserEmbeddings
from recommenders.trainer import TrainSettings

TINY = TrainSettings(max_epochs=1, batch_size=4, device="cpu", threads=1)


def test_embeddings_are_trained_once_then_read_from_the_cache(tmp_path, monkeypatch):
    dataset = handmade_dataset()
    provider = RecommenderUserEmbeddings(tmp_path, "naml", seed=0, settings=TINY, progress=False)
    first = provider(dataset, USERS)
    assert first.shape == (len(USERS), 64) and np.isfinite(first).all()
    path = provider.path(dataset)
    assert path.is_file() and path.parent == tmp_path / "embeddings"

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the embeddings are cached")

    monkeypatch.setattr(RecommenderUserEmbeddings, "_compute", no_training)
    again = RecommenderUserEmbeddings(tmp_path, "naml", seed=0, settings=TINY, progress=False)
    reordered = again(dataset, USERS[::-1])
    np.testing.assert_array_equal(reordered, first[::-1])


def test_cache_key_changes_with_every_input():
    dataset = handmade_dataset()
    base = RecommenderUserEmbeddings("/unused", "naml", seed=0, settings=TINY)
    keys = {
        base.cache_key(dataset),
        RecommenderUserEmbeddings("/unused", "nrms", seed=0, settings=TINY).cache_key(dataset),
        RecommenderUserEmbeddings("/unused", "naml", seed=1, settings=TINY).cache_key(dataset),
        RecommenderUserEmbeddings("/unused", "naml", seed=0, settings=TrainSettings()).cache_key(
            dataset
        ),
    }
    changed = handmade_dataset()
    extra = pd.DataFrame(
        [{"split": "train", "user_id": 12, "item_id": 9, "label": 0, "group_id": 12}]
    )
    changed.interactions = pd.concat([changed.interactions, extra], ignore_index=True)
    keys.add(base.cache_key(changed))
    assert len(keys) == 5
    assert dataset.fingerprint() == handmade_dataset().fingerprint()


def _provider(root) -> RecommenderUserEmbeddings:
    return RecommenderUserEmbeddings(root, "naml", seed=0, settings=TINY, progress=False)


def test_altered_truncated_or_unsealed_embeddings_are_computed_again(tmp_path, capsys):
    dataset = handmade_dataset()
    first = _provider(tmp_path)(dataset, USERS)
    path = _provider(tmp_path).path(dataset)
    whole = path.read_bytes()
    seal_file = path.with_name(path.name + ".seal.json")
    sealed = seal_file.read_bytes()
    damages = {
        "truncated": lambda: path.write_bytes(whole[: len(whole) // 2]),
        "altered": lambda: path.write_bytes(whole[:-1] + bytes([whole[-1] ^ 1])),
        "unsealed": seal_file.unlink,
    }
    expected = {"truncated": "(truncated or altered)", "altered": "differs from its seal",
                "unsealed": "no seal (written by an older condbench"}  # fmt: skip
    for name, damage in damages.items():
        path.write_bytes(whole)
        seal_file.write_bytes(sealed)
        capsys.readouterr()
        damage()
        again = _provider(tmp_path)(dataset, USERS)
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"cache: user embeddings {path}: ") and expected[name] in line, name
        assert line.endswith("; rebuilding it")
        np.testing.assert_allclose(again, first, atol=1e-5)  # trained again, same seed
        assert seal_file.is_file()
