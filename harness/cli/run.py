"""`condbench run`, `tune`, `verify` and `results show`: the harness commands.

Figures go to stdout (a table, or exactly one JSON object with ``--json``); progress bars,
logs and warnings go to stderr. Exit codes: 0 ok, 1 a check failed, 2 bad usage or input.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import click

from harness.cli.container import maybe_run_in_container
from harness.cli.options import existing_mirror, llm_client_options, llm_settings
from harness.cli.output import clean, emit_json, say, table
from harness.errors import CheckFailed, ConfigError
from harness.progress import Progress, progress
from harness.run.tracking import Tracker, default_target

DEFAULT_RESULTS = "results"


# ---- shared options ---------------------------------------------------------------------------


def container_option(command: Callable) -> Callable:
    return click.option(
        "--container",
        metavar="IMAGE",
        help="Run this same command inside the Docker IMAGE (records its digest).",
    )(command)


def maybe_in_container(image: str | None) -> None:
    """Hand the whole command line to the container runner when ``--container`` is given."""
    if not image:
        return
    maybe_run_in_container(sys.argv)


def data_options(command: Callable) -> Callable:
    command = click.option(
        "--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache root."
    )(command)
    command = click.option(
        "--mirror",
        type=click.Path(file_okay=False, path_type=Path),
        callback=existing_mirror,
        help="Data mirror folder (else $CONDBENCH_MIRROR).",
    )(command)
    return command


def results_option(command: Callable) -> Callable:
    return click.option(
        "--results",
        "results_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_RESULTS,
        envvar="CONDBENCH_RESULTS",
        show_default=True,
        help="Folder of result records and the default MLflow/Optuna stores ($CONDBENCH_RESULTS).",
    )(command)


def make_tracker(config, results_dir: Path, tracking_uri: str | None, enabled: bool):
    if not enabled or not config.tracking.enabled:
        return Tracker.disabled()
    target = default_target(
        results_dir,
        config.tracking.experiment or config.name,
        uri=tracking_uri or config.tracking.uri,
        artifacts=config.tracking.artifacts,
        deadline_s=config.tracking.deadline_s,
    )
    tracker = Tracker(target)
    tracker.connect()
    return tracker


# ---- run ------------------------------------------------------------------------------------


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--only", help="Run only matching cells, e.g. model=naml,seed=0|1,method=random.")
@click.option(
    "--condenser",
    "extra_condensers",
    multiple=True,
    metavar="NAME",
    help="Add a condenser (built-in or entry-point name) to the grid, with its default params.",
)
@click.option(
    "--budget",
    "extra_budgets",
    multiple=True,
    metavar="B",
    help="Budgets of the --condenser methods (default: the grid's budgets).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Cells run in parallel (local executor).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where cells run: this machine (--workers), or Ray tasks (docs/scaling.md).",
)
@click.option(
    "--address",
    metavar="ADDR",
    help="Ray cluster to join (host:port of `ray start --head`; else $RAY_ADDRESS or a new "
    "local Ray).",
)
@llm_client_options
@results_option
@click.option(
    "--rerun-changed",
    is_flag=True,
    help="Run again (and overwrite) the done cells recorded with other settings.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say which cells would run, are done or changed, and stop (no training, no tracking).",
)
@click.option("--tracking-uri", help="MLflow tracking URI (default: SQLite in the results folder).")
@click.option("--no-tracking", is_flag=True, help="Do not log to MLflow.")
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@container_option
def run(
    config_path,
    extra_condensers,
    extra_budgets,
    only,
    workers,
    executor,
    address,
    llm_timeout,
    llm_retries,
    results_dir,
    rerun_changed,
    dry_run,
    tracking_uri,
    no_tracking,
    cache,
    mirror,
    as_json,
    container=None,
):
    """Run the grid of CONFIG; cells whose record exists with the same settings are skipped.

    A done cell whose record holds other settings (training, params, LLM, metrics) stops the
    run (exit 2) unless --rerun-changed runs it again."""
    maybe_in_container(container)
    if address and executor != "ray":
        raise ConfigError("--address names a Ray cluster: give it with --executor ray")
    # lazy: the run floor loads pandas and the condensers (~0.5 s); run --help needs neither
    from harness.run.config import budget_label, load_config, with_condensers
    from harness.run.provenance import command_line
    from harness.run.resume import plan_resume
    from harness.run.runner import GridRunner, expand_cells, parse_only, select_cells

    config = load_config(config_path)
    try:
        budgets = [budget_label(b) for b in extra_budgets]
    except ValueError as exc:
        raise ConfigError(f"--budget: {exc}") from None
    config = with_condensers(config, list(extra_condensers), budgets)
    if llm_timeout is not None or llm_retries is not None:
        settings = llm_settings(llm_timeout, llm_retries, config.llm_settings)
        config = config.model_copy(update={"llm_settings": settings})
    if executor == "ray":  # before any work: without Ray, one line and exit 2
        from harness.run.ray_grid import MISSING_RAY, ray_available

        if not ray_available():
            raise ConfigError(MISSING_RAY)
    cells = select_cells(expand_cells(config), parse_only(only))
    if not cells:
        raise ConfigError(f"--only {only!r} matches no cell of {config_path}")
    plan = plan_resume(cells, results_dir, config)
    todo, done = resumed_cells(plan, cells, results_dir, rerun_changed)
    planner = GridRunner(config, results_dir, cache=cache, mirror=mirror)
    try:  # before any work: a budget above a dataset's users names the config key
        planner.check_budgets(todo)
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None
    if dry_run:
        if as_json:
            emit_json({"config": config.name, "cells": len(cells), "to_run": len(todo),
                       "skipped": len(done), "changed": [e.cell.key for e in plan.changed],
                       "results": str(results_dir), "dry_run": True})  # fmt: skip
        return
    tracker = make_tracker(config, results_dir, tracking_uri, not no_tracking)
    tracker.settle_done({cell.key for cell in done})
    command = command_line()
    if executor == "ray":
        from harness.run.ray_grid import run_on_ray

        run_on_ray(config, todo, results_dir, tracker, cache, mirror, command, address)
    elif workers == 1 or len(todo) <= 1:
        runner = replace(planner, tracker=tracker, command=command)  # its datasets loaded
        with Progress(len(todo), desc="grid", unit="cell", leave=True) as bar:
            for cell in todo:
                bar.write(clean(f"cell {cell.key}"))
                runner.run_cell(cell)
                bar.update()
    else:
        _run_parallel(config, todo, results_dir, tracker, cache, mirror, command, workers)
    _report(config, cells, results_dir, tracker, as_json, ran=len(todo), skipped=len(done),
            changed=len(plan.changed))  # fmt: skip


def resumed_cells(plan, cells, results_dir: Path, rerun_changed: bool) -> tuple[list, list]:
    """(to run, skipped), in grid order, after saying so: one line for the grid, one per
    changed cell. Changed cells run again with `rerun_changed`; else the run stops (exit 2)."""
    changed = f", {len(plan.changed)} changed" if plan.changed else ""
    say(f"grid: {len(cells)} cells, {len(plan.done)} done{changed}, {len(plan.todo)} to run",
        err=True)  # fmt: skip
    for entry in plan.changed:
        say(f"changed: {entry.describe()}", err=True)
    if plan.changed and not rerun_changed:
        raise ConfigError(plan.refusal(results_dir))
    to_run = {cell.key for cell in plan.todo} | {entry.cell.key for entry in plan.changed}
    return [cell for cell in cells if cell.key in to_run], plan.done


def _run_parallel(config, todo, results_dir, tracker, cache, mirror, command, workers) -> None:
    """Cells in worker processes. Tracking is shared: the first worker whose store fails sets
    `tracking_off` (an event of a manager process), later cells run untracked, and this
    process reports the first failure once."""
    target = tracker.target if tracker.active else None
    context = get_context("spawn")
    with ExitStack() as stack:
        tracking_off = stack.enter_context(context.Manager()).Event() if target else None
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=context))
        jobs = [(config, cell, results_dir, target, tracking_off, cache, mirror, command)
                for cell in todo]  # fmt: skip
        futures = [pool.submit(_run_cell_in_worker, *job) for job in jobs]
        done = as_completed(futures)
        for future in progress(done, total=len(futures), desc="grid", unit="cell", leave=True):
            tracker.absorb(future.result())


def _run_cell_in_worker(
    config, cell, results_dir, target, tracking_off, cache, mirror, command
) -> list[str]:
    """One cell in a worker process (no per-training bars: they would interleave); its
    tracking failure goes back to the parent, which reports it, and sets `tracking_off`."""
    # lazy: the run floor (~0.5 s); importing this module (run --help) must not load it
    from harness.run.runner import GridRunner

    tracking = target is not None and not tracking_off.is_set()
    tracker = Tracker(target, stream=io.StringIO()) if tracking else Tracker.disabled()
    runner = GridRunner(
        config, results_dir, tracker, cache=cache, mirror=mirror, progress=False, command=command
    )
    try:
        runner.run_cell(cell)
    finally:
        if tracker.failures:
            tracking_off.set()
    return tracker.failures


def _report(
    config, cells, results_dir, tracker, as_json, *, ran: int, skipped: int, changed: int
) -> None:
    from leaderboard.record import read_record  # lazy: pandas (~0.4 s); run --help need not

    records = [read_record(cell.record_path(results_dir)) for cell in cells]
    rows, kind = summary_rows(records)
    if as_json:
        emit_json({"config": config.name, "cells": len(cells), "ran": ran, "skipped": skipped,
                   "rerun_changed": changed, "results": str(results_dir), "summary_kind": kind,
                   "summary": rows, "tracking": _tracking_status(tracker)})  # fmt: skip
        return
    say(table(rows, empty="(no records)"))
    status = _tracking_status(tracker)
    say(
        f"{len(cells)} cells ({ran} run, {skipped} skipped); records in {results_dir}", err=True
    )
    if status["uri"] and not status["failures"]:  # a failure was reported when it happened
        say(
            f"MLflow: {status['uri']}  (mlflow ui --backend-store-uri {status['uri']})", err=True
        )


def _tracking_status(tracker) -> dict:
    return {
        "uri": tracker.target.uri if tracker.target else None,
        "failures": list(tracker.failures),
    }


def summary_rows(records) -> tuple[list[dict], str]:
    """Per method and model: Quality, ΔRandom, ratio (from `leaderboard.aggregate`)."""
    # lazy: numpy and pandas (~0.4 s); run --help need not
    from harness.metrics import is_quality_metric
    from leaderboard.aggregate import aggregate

    rows = []
    for entry in aggregate(records):
        rows.append({
            "dataset": entry.dataset, "method": entry.method, "budget": entry.budget,
            "model": entry.recommender, "seeds": len(entry.seeds),
            "quality": entry.quality, "quality_ci95": entry.quality_ci95,
            "quality_chance_adjusted": entry.quality_chance_adjusted,
            "delta_random": entry.delta_random, "ratio_overall": entry.ratio_overall,
            **{name: summary.mean for name, summary in entry.metrics.items()
               if is_quality_metric(name)},
        })  # fmt: skip
    return rows, "entries"


# ---- tune -----------------------------------------------------------------------------------


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    help="COMPLETE trials the study should reach (all workers).",
)
@click.option("--study", help="Study name (the same name resumes it).")
@click.option(
    "--storage",
    help="Optuna storage URL (default SQLite in the results folder; PostgreSQL for workers).",
)
@llm_client_options
@results_option
@click.option("--tracking-uri", help="MLflow tracking URI (default: SQLite in the results folder).")
@click.option("--no-tracking", is_flag=True, help="Do not log trials to MLflow.")
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def tune(
    config_path,
    trials,
    study,
    storage,
    results_dir,
    tracking_uri,
    no_tracking,
    cache,
    mirror,
    as_json,
    llm_timeout=None,
    llm_retries=None,
):
    """Tune a condenser's params (config `tuning`) for dev Quality; score the best on test."""
    # lazy: the run floor (~0.5 s) and Optuna; run --help and results show need neither
    from harness.run.config import load_config
    from harness.run.provenance import command_line
    from harness.run.runner import GridRunner
    from harness.run.tuning import tune as run_tuning

    config = load_config(config_path)
    if config.tuning is None:
        raise ConfigError(f"{config_path}: tuning: required for condbench tune")
    if llm_timeout is not None or llm_retries is not None:
        settings = llm_settings(llm_timeout, llm_retries, config.llm_settings)
        config = config.model_copy(update={"llm_settings": settings})
    tracker = make_tracker(config, results_dir, tracking_uri, not no_tracking)
    runner = GridRunner(
        config, results_dir, tracker, cache=cache, mirror=mirror, command=command_line()
    )
    report = run_tuning(config, runner, trials=trials, study=study, storage=storage)
    if as_json:
        emit_json(report.to_dict())
        return
    say(f"study {report.study} ({report.storage}): {report.trials_complete} complete trials, "
               f"{len(report.trials_run_here)} run here")  # fmt: skip
    if report.best_trial is not None:
        say(
            f"best trial #{report.best_trial}: dev Quality {report.best_value:.4f} with {report.best_params}"
        )
    if report.record is not None:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in report.record.metrics.items())
        say(f"test: {metrics}  -> {report.record_path}")


# ---- verify ---------------------------------------------------------------------------------


@click.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=None,
    help="Largest absolute change allowed.",
)
@click.option(
    "--rewrite",
    is_flag=True,
    help="Re-record: replace each record by its fresh run (same path, command, tuning); "
    "say why in the commit.",
)
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@container_option
def verify(records, tolerance, rewrite, cache, mirror, as_json, container=None):
    """Re-run the cells of RECORD... (files or folders); exit 1 if a metric moved."""
    maybe_in_container(container)
    # lazy: the run floor (~0.5 s); run --help need not
    from harness.run.verify import DEFAULT_TOLERANCE, verify_records

    report = verify_records(
        list(records),
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
        cache=cache,
        mirror=mirror,
        rewrite=rewrite,
        notify=lambda line: say(line, err=True),
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        say(f"verified {len(report.checked)} record(s), tolerance {report.tolerance:g}")
        for difference in report.differences:
            say(f"  moved: {difference.describe()}")
        if report.rewritten:
            say(f"rewrote {len(report.rewritten)} record(s) with their fresh runs")
    if report.differences and report.other_cpus:
        cpus = sorted(set(report.other_cpus.values()))
        say(
            f"note: {len(report.other_cpus)} record(s) come from another CPU ({'; '.join(cpus)}); "
            f"this one is {report.cpu}. CPU float results differ between instruction sets: "
            "compare on the CPU kind a record names",
            err=True,
        )
    if report.dataset_mismatches:
        raise CheckFailed(
            f"{len(report.dataset_mismatches)} record(s) were made from another dataset than "
            f"the one loaded now, e.g. {report.dataset_mismatches[0].record}"
        )
    if not report.passed and not rewrite:
        records = len({d.record for d in report.differences})
        names = ", ".join(dict.fromkeys(f"{d.split} {d.metric}" for d in report.differences))
        raise CheckFailed(
            f"{len(report.differences)} metric(s) of {records} record(s) moved beyond tolerance "
            f"{report.tolerance:g}: {names}"
        )
    if not as_json:
        say("all metrics within tolerance")


# ---- results --------------------------------------------------------------------------------


@click.group()
def results():
    """Inspect result records."""


@results.command("show")
@click.argument(
    "results_dir",
    metavar="DIR",
    required=False,
    default=DEFAULT_RESULTS,
    envvar="CONDBENCH_RESULTS",
    type=click.Path(path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(results_dir, as_json):
    """The records under DIR (default results/) as a table; DIR may be one record file."""
    # lazy: pandas (~0.4 s); run --help need not
    from leaderboard.record import read_record, read_records

    path = Path(results_dir)
    records = [read_record(path)] if path.is_file() else read_records(path)
    rows = [record_row(r) for r in records]
    if as_json:
        emit_json({"results": str(results_dir), "count": len(rows), "records": rows})
    else:
        say(table(rows, empty="(no records)"))


def record_row(record) -> dict:
    row = {"dataset": record.dataset.name, "method": record.method.name, "budget": record.budget,
           "model": record.recommender, "seed": record.seed}  # fmt: skip
    row.update({name: value for name, value in record.metrics.items()})
    row["ratio"] = record.sizes.ratio_overall if record.sizes else None
    row["train_s"] = record.timings.train_s
    row["tuning"] = f"{record.tuning.study}#{record.tuning.trial}" if record.tuning else None
    return row
