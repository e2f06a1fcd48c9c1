"""Submissions against the real MovieLens original (TF-DCon release, through the mirror)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.data import load_dataset
from harness.run.submission import evaluate_submission
from leaderboard.record import read_record
from leaderboard.submission import SubmissionRejected, validate_submission

MANIFEST = {
    "method": "release-copy",
    "version": "1",
    "authors": "condbench tests",
    "paper_url": "https://arxiv.org/abs/2310.09874",
    "params": {},
    "dataset": "movielens-tfdcon",
    "budget": 47,
    "condensed_set": "condensed",
}


@pytest.fixture
def release_entry(mirror, session_cache, monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    monkeypatch.setenv("CONDBENCH_CACHE", str(session_cache))
    root = tmp_path / "entry"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps(MANIFEST))
    return root


@pytest.mark.parametrize("variant", ["condensed", "random", "majority"])
def test_release_condensed_sets_pass_validation(release_entry, variant):
    load_dataset("movielens-tfdcon", variant=variant).save(release_entry / "condensed")
    valid = validate_submission(release_entry)
    original = load_dataset("movielens-tfdcon")
    assert valid.summary()["train_users"] <= 47
    assert valid.condensed.split("test").equals(original.split("test"))
    assert valid.condensed.meta["negatives_from"] == "original"


def test_real_test_interaction_in_train_is_rejected(release_entry):
    condensed = load_dataset("movielens-tfdcon", variant="condensed")
    original = load_dataset("movielens-tfdcon")
    test = original.split("test")
    leak = test[test["user_id"].isin(condensed.split("train")["user_id"])].head(1)
    assert len(leak) == 1
    train = condensed.split("train")
    leaked = condensed.with_train(
        pd.concat([train, leak[train.columns.tolist()]], ignore_index=True), variant="leaky"
    )
    leaked.save(release_entry / "condensed")
    user, item = int(leak["user_id"].iloc[0]), int(leak["item_id"].iloc[0])
    with pytest.raises(SubmissionRejected, match=rf"\(user {user}, item {item}\) is a dev/test"):
        validate_submission(release_entry)


@pytest.mark.slow
def test_evaluate_submission_writes_records(release_entry, tmp_path):
    load_dataset("movielens-tfdcon", variant="condensed").save(release_entry / "condensed")
    config = {
        "name": "submission-test",
        "grid": {
            "datasets": ["movielens-tfdcon"],
            "condensers": [{"name": "original"}],
            "recommenders": ["naml"],
            "seeds": [0],
        },
        "training": {"max_epochs": 1, "batch_size": 256, "threads": 2},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    valid = validate_submission(release_entry)
    results = tmp_path / "results"
    paths = evaluate_submission(valid, config_path=config_path, results_dir=results, progress=False)
    assert len(paths) == 1
    record = read_record(paths[0])
    assert record.method.source == "submission" and record.method.name == "release-copy"
    assert record.method.authors == "condbench tests"
    assert 0 < record.metrics["NDCG@5"] <= 1 and record.sizes is not None
    assert record.sizes.ratio_overall < 1
    shutil.rmtree(release_entry / "condensed")
    assert (
        evaluate_submission(valid, config_path=config_path, results_dir=results) == paths
    )  # resumes
