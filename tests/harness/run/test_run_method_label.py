"""The runner fills a record's `MethodInfo.label` from its condenser's `Condenser.label`, only
when the cell keeps the condenser's own name: a config ``label:`` renames the method, and the
record then has no label (nor a ``label`` key in its JSON).

The condenser is registered by this module only: `random` with a label.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from factories import tiny_config, write_config

from condensers.random import RandomCondenser
from condensers.registry import CONDENSERS
from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells, method_label
from harness.run.tracking import Tracker
from leaderboard.record import read_record

NAME = "labelled-random"
LABEL = "Random (labelled, <test>)"


class LabelledRandom(RandomCondenser):
    """`random` that the board names LABEL (test only)."""

    name = NAME
    summary = "random with a display label (test only)"
    label = LABEL


@pytest.fixture
def labelled() -> Iterator[type[LabelledRandom]]:
    CONDENSERS.register(NAME, LabelledRandom)
    try:
        yield LabelledRandom
    finally:
        CONDENSERS.unregister(NAME)


def _cells(tiny_folder, root):
    config = tiny_config(tiny_folder)
    params = {"text_tokens": 3}
    config["grid"] |= {
        "condensers": [
            {"name": NAME, "budgets": [8], "params": params},
            {"name": NAME, "label": "renamed", "budgets": [8], "params": params},
            {"name": "random", "budgets": [8], "params": params},
        ],
        "seeds": [0],
    }
    config["training"] |= {"max_epochs": 1}
    del config["tuning"]
    config = load_config(write_config(root / "tiny.yaml", config))
    return config, {cell.method: cell for cell in expand_cells(config)}


def test_method_label_only_for_a_cell_under_its_condenser_name(labelled, tiny_folder, tmp_path):
    _, cells = _cells(tiny_folder, tmp_path)
    assert set(cells) == {NAME, "renamed", "random"}
    assert method_label(cells[NAME]) == LABEL
    assert cells["renamed"].condenser == NAME and method_label(cells["renamed"]) is None
    assert method_label(cells["random"]) is None  # a condenser without a label


def test_records_carry_the_label_and_a_relabelled_method_none(labelled, tiny_folder, tmp_path):
    config, cells = _cells(tiny_folder, tmp_path)
    runner = GridRunner(
        config, tmp_path / "results", Tracker.disabled(), cache=tmp_path / "cache", progress=False
    )
    for method in (NAME, "renamed"):
        runner.run_cell(cells[method])
    own = cells[NAME].record_path(runner.results_dir)
    renamed = cells["renamed"].record_path(runner.results_dir)
    assert read_record(own).method.label == LABEL
    assert json.loads(own.read_text(encoding="utf-8"))["method"]["label"] == LABEL
    assert read_record(renamed).method.name == "renamed"
    assert read_record(renamed).method.label is None
    assert "label" not in json.loads(renamed.read_text(encoding="utf-8"))["method"]
