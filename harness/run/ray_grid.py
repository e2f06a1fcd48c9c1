"""`condbench run --executor ray`: the grid's pending cells as Ray tasks, on one machine or many.

Ray is optional (``pip install 'condbench[ray]'``); it is imported here, inside `run_on_ray`
only, so that the harness and its fast tests never need it.

- Each pending cell is one task, submitted once by the driver (`condbench run`), asking for its
  share of a machine: ``num_cpus`` = the config's training threads, and one GPU
  (``num_gpus=1``) when the config's device is ``cuda``.
- The task runs the cell in the worker (as ``--workers`` does) but writes nothing: it returns
  the record's JSON, and the driver writes it atomically into its results folder
  (`write_record`). Workers need no shared folder, and the driver writes each cell once: a
  task whose worker died is retried by Ray (`MAX_RETRIES`), and only its one result reaches
  the driver. Resume works as with the local executor: done cells are never submitted.
- Tracking: a tracking server (``--tracking-uri http://...``) is written by the workers, as
  with ``--workers``. A local store (the default SQLite file in the results folder, or any
  ``sqlite:``/``file:`` URI) cannot be reached from workers on other machines: the workers
  run untracked and the driver logs each cell's run from its record (params, test/dev
  metrics, timings, sizes, config and record; no per-epoch curves, no condensed-set
  artifacts).
- A cell that fails (its error, not a dead worker) does not stop the others: the driver
  writes every record that comes back, then raises the first cell error.
- Every machine needs condbench and its data (the same commit, the data mirror or the cache):
  a task imports condbench from its worker's environment.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from harness.errors import CondbenchError, ConfigError
from harness.progress import Progress
from harness.run.config import training_settings
from harness.run.runner import Cell, GridRunner
from harness.run.tracking import Tracker, TrackingTarget
from leaderboard.record import ResultRecord, record_json, write_record

RAY_PIN = "ray[default]==2.60.0"
MISSING_RAY = (
    f"--executor ray needs Ray, which is not installed: pip install 'condbench[ray]' ({RAY_PIN})"
)
MAX_RETRIES = 3  # a task whose worker process (or machine) died runs again, at most this often


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def cell_resources(config) -> dict[str, float]:
    """What one cell asks Ray for: its training threads as CPUs, one GPU on a cuda device."""
    settings = training_settings(config.training, "training", config.track)
    resources: dict[str, float] = {"num_cpus": float(getattr(settings, "threads", 1))}
    if str(getattr(settings, "device", "cpu")).startswith("cuda"):
        resources["num_gpus"] = 1.0
    return resources


def is_local_store(uri: str) -> bool:
    """A tracking store only this machine can reach (a SQLite file or a folder)."""
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def run_cell_task(
    config, cell_data: dict, results_dir: str, target: TrackingTarget | None, cache, mirror,
    command: str,
) -> tuple[str, list[str]]:  # fmt: skip
    """One cell in a Ray worker: (its record's JSON, tracking failures). Nothing is written
    to the results folder here; the driver writes the record."""
    import io

    cell = Cell.from_dict(cell_data)
    tracker = Tracker(target, stream=io.StringIO()) if target else Tracker.disabled()
    runner = GridRunner(
        config, Path(results_dir), tracker, cache=cache, mirror=mirror, progress=False,
        command=command,
    )  # fmt: skip
    record = runner.run_cell(cell, write=False)
    return record_json(record), list(tracker.failures)


def run_on_ray(
    config, todo: list[Cell], results_dir: Path, tracker: Tracker, cache, mirror, command: str,
    address: str | None,
) -> None:  # fmt: skip
    """Run `todo` as Ray tasks on the cluster at `address` (else Ray's default: $RAY_ADDRESS,
    or a new local instance); write each returned record here, once."""
    try:
        import ray
    except ImportError:
        raise ConfigError(MISSING_RAY) from None
    if not todo:
        return

    local_store = tracker.active and is_local_store(tracker.target.uri)
    target = tracker.target if tracker.active and not local_store else None
    if local_store:
        tracker.stream.write(
            f"tracking: {tracker.target.uri} is local to this machine; Ray workers run "
            "untracked and this process logs each cell from its record (a tracking server, "
            "--tracking-uri http://..., keeps per-epoch curves)\n"
        )
    driver = GridRunner(config, results_dir, tracker, cache=cache, mirror=mirror, command=command)
    # stdout holds the figures only (one JSON object with --json): Ray's worker logs and its
    # messages (a worker died, a task retried) go to stderr
    with contextlib.redirect_stdout(sys.stderr):
        ray.init(address=address, logging_level="warning", log_to_driver=True)
        try:
            _collect(ray, config, todo, results_dir, tracker, target, driver, local_store, cache,
                     mirror, command)  # fmt: skip
        finally:
            ray.shutdown()


def _collect(
    ray, config, todo, results_dir, tracker, target, driver, local_store, cache, mirror, command
) -> None:
    """Submit each cell once; write each returned record once; raise the first cell error
    after every other cell has come back."""
    task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(run_cell_task)
    task = task.options(**cell_resources(config))
    pending = {
        task.remote(config, cell.to_dict(), str(results_dir), target, cache, mirror, command): cell
        for cell in todo
    }  # fmt: skip
    written: set[str] = set()
    first_error: BaseException | None = None
    with Progress(len(pending), desc="grid", unit="cell", leave=True) as bar:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ready[0])
            try:
                text, failures = ray.get(ready[0])
            except Exception as exc:  # the cell's own error (or its worker died too often)
                first_error = first_error or _cell_error(cell, exc)
                bar.write(f"cell {cell.key} failed: {first_error}")
                bar.update()
                continue
            tracker.absorb(failures)
            if cell.key not in written:  # one result per submitted cell; never two writes
                record = ResultRecord.model_validate(json.loads(text))
                write_record(record, results_dir)
                written.add(cell.key)
                if local_store:
                    driver.track_record(cell, record)
            bar.write(f"cell {cell.key}")
            bar.update()
    if first_error is not None:
        raise first_error


def _cell_error(cell: Cell, exc: BaseException) -> BaseException:
    """The cell's own error (a `CondbenchError` prints as one line), else one line of Ray's."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, CondbenchError):
        return cause
    first = str(cause or exc).strip().splitlines()
    reason = f"{type(cause or exc).__name__}: {first[0] if first else ''}"
    return CondbenchError(f"{cell.key}: the Ray task failed: {reason}")
