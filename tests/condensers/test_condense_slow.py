"""Slow checks with the real models: the sentence encoder and TF-DCon end to end (replay)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.dataset import Dataset
from recommenders.encoders import EMBEDDING_DIM, SentenceEncoder

pytestmark = pytest.mark.slow


def test_sentence_encoder_loads_offline_and_pools_interests(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = SentenceEncoder()
    vectors = encoder.encode(["science fiction", "space opera", "cooking shows"])
    assert vectors.shape == (3, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    pooled = encoder.pooled([["science fiction", "space opera"], []])
    np.testing.assert_allclose(pooled[0], vectors[:2].mean(axis=0), atol=1e-6)
    assert not pooled[1].any()


def test_tfdcon_replay_on_movielens_has_47_users_and_makes_no_llm_call(
    tmp_path, mirror, session_cache
):
    out = tmp_path / "tfdcon47"
    args = ["condense", "--dataset", "movielens-tfdcon", "--method", "tfdcon", "--budget", "47"]
    args += ["--llm", "replay", "--quiet", "--json", "-o", str(out)]
    args += ["--mirror", str(mirror), "--cache", str(session_cache)]
    args += ["--train-setting", "max_epochs=1", "--train-setting", "batch_size=512"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["users"] == 47
    assert report["llm"]["calls_made"] == 0 and report["llm"]["replayed"] > 0
    condensed = Dataset.load(out)
    assert condensed.text_fields == ("title",)
    assert (condensed.split("train")["label"] == 1).all()
    assert condensed.meta["negatives_from"] == "original"
