"""`condbench data fetch/stats/list` through the real command group."""

from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_fetch_then_stats_reports_the_release_numbers(mirror, tmp_path):
    cache = str(tmp_path / "cache")
    fetched = run("data", "fetch", "movielens-tfdcon", "--mirror", str(mirror), "--cache", cache)
    assert fetched.exit_code == 0, fetched.output
    assert "original, random, majority, condensed" in fetched.stderr

    result = run("data", "stats", "movielens-tfdcon", "--cache", cache, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # exactly one JSON object on stdout
    train, dev, test = (figures["splits"][s] for s in ("train", "dev", "test"))
    assert (train["interactions"], train["users"]) == (48954, 939)
    assert dev["interactions"] == 12239
    assert (test["interactions"], test["users"]) == (5122, 686)
    assert figures["items"] == 1682
    assert test["candidates"]["min"] == 2 and test["candidates"]["max"] == 10
    assert test["groups"] == 686
    assert figures["train_size_kb"]["overall_kb"] > figures["train_size_kb"]["user_kb"] > 0

    listed = json.loads(run("data", "list", "--cache", cache, "--json").stdout)
    by_name = {row["name"]: row for row in listed["datasets"]}
    assert by_name["movielens-tfdcon"]["cached"] == ["original", "random", "majority", "condensed"]
    assert by_name["goodreads-tfdcon"]["cached"] == []


def test_condensed_variant_stats(mirror, tmp_path):
    result = run(
        "data", "stats", "movielens-tfdcon", "--variant", "condensed",
        "--mirror", str(mirror), "--cache", str(tmp_path), "--json",
    )  # fmt: skip
    figures = json.loads(result.stdout)
    assert figures["variant"] == "condensed"
    assert figures["splits"]["train"]["users"] == 47
    assert figures["splits"]["train"]["positives"] == figures["splits"]["train"]["interactions"]


def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.delenv("CONDBENCH_MIRROR", raising=False)
    result = run("data", "stats", "no-such-data", "--cache", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown dataset 'no-such-data'" in result.stderr
    assert result.stdout == ""
