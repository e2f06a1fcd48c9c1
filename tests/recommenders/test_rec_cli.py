"""`condbench train` end to end: JSON shape, references, Quality, readable errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.train import parse_seeds
from harness.errors import ConfigError


def run(args):
    return CliRunner().invoke(main, ["train", *args])


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3, 1,3") == [3, 1]
    for bad in ("a-b", "4-2", "", "-1"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_train_json_on_a_saved_dataset_with_a_condensed_train_set(tiny_dataset, tmp_path):
    original = tiny_dataset.save(tmp_path / "tiny")
    train = tiny_dataset.split("train")
    condensed = tiny_dataset.with_train(
        train[(train["label"] == 1) & (train["user_id"] < 10)], variant="condensed"
    )
    condensed_path = condensed.save(tmp_path / "tiny-condensed")
    result = run(
        [
            "--dataset",
            str(original),
            "--model",
            "nrms",
            "--seeds",
            "0-1",
            "--epochs",
            "1",
            "--threads",
            "1",
        ]
        + ["--train-set", str(condensed_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "nrms" and report["seeds"] == [0, 1]
    assert [run["seed"] for run in report["per_seed"]] == [0, 1]
    assert set(report["metrics"]) == {"AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5"}
    summary = report["summary"]["NDCG@5"]
    assert summary["mean"] == pytest.approx(
        sum(r["metrics"]["NDCG@5"] for r in report["per_seed"]) / 2
    )
    assert set(report["reference"]) == {"chance", "popularity"}
    assert report["reference"]["chance"]["AUC"] == 0.5
    assert (
        report["per_seed"][0]["epochs_run"] == 1 and report["per_seed"][0]["samples_per_second"] > 0
    )
    assert len(report["original"]["per_seed"]) == 2
    assert set(report["quality"]) == {"mean", "std", "ci95", "values"}
    assert report["quality_chance_adjusted"]["values"] and report["quality_metrics"] == [
        "NDCG@1",
        "NDCG@5",
        "Recall@1",
        "Recall@5",
    ]


def test_train_table_output(tiny_dataset, tmp_path):
    folder = tiny_dataset.save(tmp_path / "tiny")
    result = run(
        [
            "--dataset",
            str(folder),
            "--model",
            "naml",
            "--seeds",
            "0",
            "--epochs",
            "1",
            "--threads",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "popularity" in result.stdout and "chance" in result.stdout and "NDCG@5" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "lightgcn", "--seeds", "0"], "unknown recommender 'lightgcn'"),
        (["--model", "naml", "--seeds", "x"], "--seeds: cannot read 'x'"),
        (
            ["--model", "naml", "--seeds", "0", "--batch-size", "0"],
            "training.batch_size: must be a positive integer, got 0",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_dataset, tmp_path, args, message):
    folder = tiny_dataset.save(tmp_path / "tiny")
    result = run(["--dataset", str(folder), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_train_naml_on_movielens_release(mirror, session_cache):
    result = run(
        ["--dataset", "movielens-tfdcon", "--model", "naml", "--seeds", "0", "--json"]
        + ["--mirror", str(mirror), "--cache", str(session_cache)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reference"]["popularity"]["NDCG@1"] == pytest.approx(0.8535, abs=1e-3)
    # the paper's Table III Original row for NAML, at 95%
    for name, paper in {
        "NDCG@1": 0.8280,
        "NDCG@5": 0.8310,
        "Recall@1": 0.1752,
        "Recall@5": 0.7399,
    }.items():
        assert report["summary"][name]["mean"] >= 0.95 * paper, name
