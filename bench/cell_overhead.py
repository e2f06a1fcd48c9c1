"""Where a grid cell's wall time goes: one worker's cells, timed by phase.

    python bench/cell_overhead.py --only method=random,model=naml,seed=0|1|2 [--config configs/movielens.yaml]
        [--no-tracking] [--cache DIR] [--json]

Runs the selected cells of a config one after another in this process, the way one
`condbench run --workers N` worker runs its share (the same worker code, a fresh results
folder, MLflow on a SQLite store there unless --no-tracking), and splits each cell's wall
time into exclusive phases (a phase nested in another is counted once, in the inner one):

- ``dataset``: loading the original dataset; ``condense``: the condensed set (cache or made);
- ``inputs``: `ItemTexts` / `UserHistories` (token and history tables);
- ``sampler``: the train positives and the negative sampler's set-up;
- ``model``: building the model; ``steps``: the epochs' optimiser steps (negatives drawn);
- ``dev``: the per-epoch dev scoring for early stopping; ``final``: the test and dev
  evaluation of the kept weights;
- ``record``: building and writing the result record; ``tracking``: every MLflow call;
- ``other``: the rest of the cell (early-stopping state copies, the optimiser, glue).

Before the cells it times a fresh interpreter importing what a worker imports (``start``).
The first cell of a process also pays its lazy imports (torch, MLflow) and warm-up.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import click

# (phase, module, attribute): `attribute` may be "Class.method"; missing ones are skipped, so
# the script runs on older and newer code alike
PHASES = [
    ("dataset", "harness.run.runner", "GridRunner.original"),
    ("condense", "harness.run.runner", "GridRunner.condensed"),
    ("inputs", "recommenders.inputs", "ItemTexts.from_dataset"),
    ("inputs", "recommenders.inputs", "UserHistories.from_dataset"),
    ("sampler", "recommenders.trainer", "_TrainingData.__init__"),
    ("model", "recommenders.base", "ContentRecommender.from_options"),
    ("steps", "recommenders.trainer", "_train_epoch"),
    ("dev", "recommenders.trainer", "score_rows"),
    ("dev", "recommenders.trainer", "metrics_of"),
    ("final", "recommenders.evaluator", "evaluate"),
    ("record", "harness.run.runner", "GridRunner.build_record"),
    ("record", "harness.run.runner", "write_record"),
    ("tracking", "harness.run.tracking", "Tracker.start"),
    ("tracking", "harness.run.tracking", "Tracker.connect"),
    ("tracking", "harness.run.tracking", "CellRun.log_params"),
    ("tracking", "harness.run.tracking", "CellRun.log_metrics"),
    ("tracking", "harness.run.tracking", "CellRun.log_dict"),
    ("tracking", "harness.run.tracking", "CellRun.log_folder"),
    ("tracking", "harness.run.tracking", "CellRun.finish"),
]
ORDER = ["dataset", "condense", "inputs", "sampler", "model", "steps", "dev", "final",
         "record", "tracking", "other"]  # fmt: skip
WORKER_IMPORTS = "import harness.run.runner, recommenders.trainer, mlflow.tracking"


class Clock:
    """Exclusive time per phase: a nested phase's time is taken out of its caller's."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [phase, start, nested seconds]
        self._owner = threading.get_ident()

    def wrap(self, phase: str, function):
        clock = self

        def timed(*args, **kwargs):
            if threading.get_ident() != clock._owner:  # a helper thread: not this cell's clock
                return function(*args, **kwargs)
            clock._stack.append([phase, time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                name, start, nested = clock._stack.pop()
                spent = time.perf_counter() - start
                clock.totals[name] += spent - nested
                if clock._stack:
                    clock._stack[-1][2] += spent

        timed.__wrapped__ = function
        return timed

    def take(self) -> dict[str, float]:
        out, self.totals = dict(self.totals), defaultdict(float)
        return out


def install(clock: Clock) -> list[str]:
    """Wrap every phase function that exists; returns the ones that do not."""
    missing = []
    for phase, module_name, attribute in PHASES:
        module = importlib.import_module(module_name)
        owner, _, name = attribute.rpartition(".")
        target = getattr(module, owner, None) if owner else module
        raw = None if target is None else vars(target).get(name)
        if raw is None:
            missing.append(f"{module_name}.{attribute}")
            continue
        if isinstance(raw, classmethod):
            setattr(target, name, classmethod(clock.wrap(phase, raw.__func__)))
        elif isinstance(raw, staticmethod):
            setattr(target, name, staticmethod(clock.wrap(phase, raw.__func__)))
        else:
            setattr(target, name, clock.wrap(phase, raw))
    return missing


def start_seconds() -> float:
    """A fresh interpreter importing the worker's modules (what a spawned worker pays once)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", WORKER_IMPORTS], check=True, env=os.environ.copy())
    return time.perf_counter() - started


def cell_runner(config, results: Path, tracking: bool, cache: Path | None):
    """A function running one cell as a `condbench run --workers N` worker does."""
    from harness.cli import run as run_command
    from harness.run.tracking import Tracker, default_target

    target = (
        default_target(results, config.tracking.experiment or config.name) if tracking else None
    )
    if target is not None:
        Tracker(target).connect()  # the parent process opens the store before the grid
    tracking_off = threading.Event()
    worker = run_command._run_cell_in_worker
    return lambda cell: worker(config, cell, results, target, tracking_off, cache, None, "bench")


@click.command()
@click.option("--config", "config_path", default="configs/movielens.yaml", show_default=True)
@click.option("--only", required=True, help="Cells, as `condbench run --only`.")
@click.option("--no-tracking", is_flag=True)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def main(config_path, only, no_tracking, cache, as_json):
    start = start_seconds()
    from harness.run.config import load_config
    from harness.run.runner import expand_cells, parse_only, select_cells

    config = load_config(config_path)
    cells = select_cells(expand_cells(config), parse_only(only))
    clock = Clock()
    missing = install(clock)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cell-overhead-") as tmp:
        run = cell_runner(config, Path(tmp), not no_tracking, cache)
        clock.take()  # opening the store (the parent's work in a grid) is no cell's
        for cell in cells:
            started, cpu = time.perf_counter(), time.process_time()
            with contextlib.redirect_stderr(io.StringIO()):
                run(cell)
            wall = time.perf_counter() - started
            phases = clock.take()
            phases["other"] = wall - sum(phases.values())
            rows.append({"cell": cell.key, "wall": wall, "cpu": time.process_time() - cpu,
                         "phases": {k: phases.get(k, 0.0) for k in ORDER}})  # fmt: skip
    report = {"start_s": start, "cells": rows, "missing": missing,
              "load_average_1min": os.getloadavg()[0]}  # fmt: skip
    if as_json:
        print(json.dumps(report, indent=1))
        return
    print(f"worker start (fresh interpreter, imports): {start:.2f} s")
    if missing:
        print(f"not in this code: {', '.join(missing)}")
    header = ["cell", "wall", "cpu", *ORDER]
    print(" | ".join(header))
    for row in rows:
        cell = row["cell"].split("/", 1)[1]
        values = [f"{row['wall']:.2f}", f"{row['cpu']:.2f}"]
        values += [f"{row['phases'][k]:.2f}" for k in ORDER]
        print(" | ".join([cell, *values]))
    print(f"load average (1 min) at the end: {report['load_average_1min']:.2f}")


if __name__ == "__main__":
    main()
