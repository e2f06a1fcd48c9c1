"""A condenser's per-step figures (`CondenseContext.report`) reach the cell's MLflow run as
metric history, and its own evaluation (``meta["extra_evaluations"]``) reaches the record,
MLflow, and, through the condensed-set cache, a later cell that reuses the set.

The condenser is registered by this module only: `random` that reports two distillation
epochs and one extra evaluation with known values.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator

import pytest
from factories import tiny_config, write_config

from condensers.context import EXTRA_EVALUATIONS, CondenseContext
from condensers.random import RandomCondenser
from condensers.registry import CONDENSERS
from harness.errors import DataError
from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells
from harness.run.tracking import Tracker, TrackingTarget
from leaderboard.record import ExtraEvaluation, read_record

NAME = "reporting-random"
EPOCHS = [(0, {"outer_loss": 2.5, "dev_NDCG@10": 0.125}), (1, {"outer_loss": 1.5, "dev_NDCG@10": 0.25})]  # fmt: skip
OWN = {"label": "the method's recipe", "description": "warm-started", "split": "test",
       "metrics": {"NDCG@10": 0.375, "HR@10": 0.5}}  # fmt: skip


class ReportingRandom(RandomCondenser):
    """`random`, reporting EPOCHS to the context and OWN as its own evaluation."""

    name = NAME
    summary = "random, reporting two distillation epochs (test only)"
    own: dict = OWN

    def condense(self, dataset, budget, rng, ctx):
        for epoch, figures in EPOCHS:
            ctx.report("distill", figures, epoch)
        condensed = super().condense(dataset, budget, rng, ctx)
        meta = {**condensed.meta, EXTRA_EVALUATIONS: {"own-recipe": self.own}}
        return dataclasses.replace(condensed, meta=meta)


@pytest.fixture
def reporting() -> Iterator[type[ReportingRandom]]:
    CONDENSERS.register(NAME, ReportingRandom)
    try:
        yield ReportingRandom
    finally:
        CONDENSERS.unregister(NAME)


def _runner(tiny_folder, root, tracker: Tracker | None = None) -> tuple[GridRunner, object]:
    config = tiny_config(tiny_folder)
    config["grid"] |= {
        "condensers": [{"name": NAME, "budgets": [8], "params": {"text_tokens": 3}}],
        "seeds": [0],
    }
    config["training"] |= {"max_epochs": 1}
    del config["tuning"]
    config = load_config(write_config(root / "tiny.yaml", config))
    (cell,) = expand_cells(config)
    runner = GridRunner(
        config,
        root / "results",
        tracker or Tracker.disabled(),
        cache=root.parent / "cache",
        progress=False,
    )
    return runner, cell


def test_report_is_a_no_op_without_a_sink_and_sends_floats_with_one():
    CondenseContext().report("distill", {"outer_loss": 1.0}, 0)  # no sink: nothing happens
    seen = []
    ctx = CondenseContext(metrics_sink=lambda *args: seen.append(args))
    ctx.report("distill", {"outer_loss": 3}, 2)
    assert seen == [("distill", {"outer_loss": 3.0}, 2)]
    assert isinstance(seen[0][1]["outer_loss"], float)


def test_reported_steps_and_own_evaluation_reach_mlflow_and_the_record(
    reporting, tiny_folder, mlflow_store, tmp_path
):
    database = tmp_path / "mlflow.db"
    shutil.copy(mlflow_store["uri"].removeprefix("sqlite:///"), database)
    tracker = Tracker(TrackingTarget(f"sqlite:///{database}", str(tmp_path / "mlruns"), "rep"))
    assert tracker.connect()
    (tmp_path / "first").mkdir()
    runner, cell = _runner(tiny_folder, tmp_path / "first", tracker)
    record = runner.run_cell(cell)

    (run,) = tracker.runs_of(cell.key)
    client = tracker._client
    for name, key in (("outer_loss", "outer_loss"), ("dev_NDCG@10", "dev_NDCG_at_10")):
        history = client.get_metric_history(run.info.run_id, f"distill/{key}")
        assert sorted((m.step, m.value) for m in history) == [
            (step, figures[name]) for step, figures in EPOCHS
        ]
    assert run.data.metrics["extra.own-recipe/NDCG_at_10"] == 0.375
    assert run.data.metrics["extra.own-recipe/HR_at_10"] == 0.5
    expected = {"own-recipe": ExtraEvaluation(**OWN)}
    assert record.extra_evaluations == expected
    assert read_record(cell.record_path(runner.results_dir)).extra_evaluations == expected

    # a second grid reuses the cached set (not condensed again) and still has the evaluation
    (tmp_path / "second").mkdir()
    again, cell = _runner(tiny_folder, tmp_path / "second")
    train_set, made = again.condensed(cell, again.original(cell.dataset))
    assert made["cached"] is True and made["extra_evaluations"] == {"own-recipe": OWN}


def test_a_bad_own_evaluation_fails_the_cell_before_anything_is_cached(
    reporting, tiny_folder, tmp_path, monkeypatch
):
    monkeypatch.setattr(ReportingRandom, "own", {**OWN, "metrics": {"NDCG@10": float("nan")}})
    (tmp_path / "run").mkdir()
    runner, cell = _runner(tiny_folder, tmp_path / "run")
    with pytest.raises(DataError, match="invalid extra evaluation") as info:
        runner.condensed(cell, runner.original(cell.dataset))
    assert info.value.where == "own-recipe.metrics.NDCG@10"
    assert not (tmp_path / "cache" / "condensed").exists()


def test_a_nan_metric_fails_the_cell_with_one_line_and_writes_no_record(
    reporting, tiny_folder, tmp_path, monkeypatch
):
    from harness.run.runner import CellResult
    from leaderboard.record import Timings

    def nan_result(self, cell, train_set, original, on_epoch=None):
        return CellResult({"AUC": float("nan")}, {}, 0, 3, Timings())

    monkeypatch.setattr(GridRunner, "train_and_evaluate", nan_result)
    (tmp_path / "run").mkdir()
    runner, cell = _runner(tiny_folder, tmp_path / "run")
    with pytest.raises(DataError, match="no valid record: .*finite") as info:
        runner.run_cell(cell)
    assert info.value.file == cell.key and info.value.where == "metrics.AUC"
    assert not cell.record_path(runner.results_dir).exists()
