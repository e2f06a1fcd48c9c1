"""`condbench train` is built on the grid's cell code: the same cell gives the same metrics."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner
from factories import tiny_dataset

from condensers import registry
from harness.cli import main
from harness.cli.train import VARIANTS
from harness.dataset import Dataset
from leaderboard.record import read_records

TRAINING = {"max_epochs": 2, "batch_size": 32, "patience": 1, "threads": 1}


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_train_and_run_give_identical_metrics_for_the_same_cell(tmp_path):
    folder = tiny_dataset().save(tmp_path / "tiny")
    config = {
        "name": "same-cell",
        "grid": {
            "datasets": [str(folder)],
            "condensers": [{"name": "random", "budgets": [8], "params": {"text_tokens": 3}}],
            "recommenders": ["naml"],
            "seeds": [1],
        },
        "training": TRAINING,
        "tracking": {"enabled": False},
    }
    path = tmp_path / "same-cell.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    ran = invoke("run", path, "--results", tmp_path / "results", "--cache", tmp_path / "c1", "--json")
    assert ran.exit_code == 0, ran.output
    [record] = read_records(tmp_path / "results")

    # its own cache: the train set is condensed again, not read from the run's
    trained = invoke(
        "train", "--dataset", folder, "--model", "naml", "--seeds", "1",
        "--condenser", "random", "--budget", "8", "--param", "text_tokens=3",
        "--epochs", 2, "--batch-size", 32, "--patience", 1, "--threads", 1,
        "--cache", tmp_path / "c2", "--json",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    [seed] = report["per_seed"]
    assert seed["metrics"] == record.metrics  # exactly, not approximately
    assert seed["dev_metrics"] == record.dev_metrics
    assert report["reference"] == record.reference
    assert report["evaluation"]["groups_used"] == record.groups_used

    # the cell's train set is positives only: its negatives came from Original in both
    [made] = [Dataset.load(p.parent) for p in (tmp_path / "c2").rglob("manifest.json")]
    assert made.meta["negatives_from"] == "original"
    assert (made.split("train")["label"] == 1).all()
    assert record.dataset.num_train_users == 8
    assert "\r" not in trained.stderr  # stderr is not a terminal: lines, not bar frames


def test_train_variants_are_release_entries():
    assert set(VARIANTS.values()) <= set(registry.available())
    assert VARIANTS["condensed"] == "release-tfdcon"


def test_train_refuses_two_train_sets(tmp_path):
    folder = tiny_dataset().save(tmp_path / "tiny")
    result = CliRunner().invoke(
        main,
        ["train", "--dataset", str(folder), "--model", "naml", "--seeds", "0",
         "--condenser", "random", "--train-set", str(Path(folder))],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--condenser, --train-set" in result.output
