"""Goodreads from the TF-DCon release through the runner: no Original train split, so no
`original` cell, no ratio, no popularity floor; negatives by the named catalogue rule."""

from __future__ import annotations

import pytest
from factories import write_config

from harness.errors import ConfigError
from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells
from leaderboard.site import LoadedRecord, render_site

SMALL = {"word_dim": 16, "content_dim": 32, "user_dim": 16, "attention_hidden": 16}


def _runner(tmp_path, mirror, session_cache, condensers) -> tuple[GridRunner, list]:
    config = {
        "name": "goodreads-test",
        "grid": {
            "datasets": ["goodreads-tfdcon"],
            "condensers": condensers,
            "recommenders": ["naml"],
            "seeds": [0],
        },
        "training": {"max_epochs": 1, "batch_size": 2048, "threads": 1, "max_tokens": 70,
                     "model_options": SMALL},
    }  # fmt: skip
    config = load_config(write_config(tmp_path / "goodreads.yaml", config))
    runner = GridRunner(
        config, tmp_path / "results", cache=session_cache, mirror=mirror, progress=False
    )
    return runner, expand_cells(config)


def test_original_cell_is_refused_in_one_line(tmp_path, mirror, session_cache):
    runner, (cell,) = _runner(tmp_path, mirror, session_cache, [{"name": "original"}])
    with pytest.raises(ConfigError, match="goodreads-tfdcon has no original train split") as err:
        runner.run_cell(cell)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.json"))


@pytest.mark.slow
def test_a_goodreads_cell_names_its_negatives_and_has_sizes_but_no_ratio(
    tmp_path, mirror, session_cache
):
    runner, (cell,) = _runner(
        tmp_path, mirror, session_cache, [{"name": "release-tfdcon", "budgets": ["27%"]}]
    )
    record = runner.run_cell(cell)
    assert record.dataset.name == "goodreads-tfdcon" and record.dataset.negatives == "catalogue"
    assert record.dataset.num_train_users == 4190
    assert record.sizes.overall_kb > 0 and record.sizes.ratio_overall is None
    assert record.sizes.ratio_item is None and record.sizes.ratio_user is None
    assert set(record.reference) == {"chance"}  # nothing to count popularity from
    assert record.groups_used > 20000 and 0 < record.metrics["NDCG@5"] <= 1
    assert record.metrics["NDCG@1"] > record.reference["chance"]["NDCG@1"]  # it learned
    render_site([LoadedRecord(record, None)], tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "train set size, KB" in index and "Quality ±" not in index
