"""`condbench submit`: validate a leaderboard entry, then evaluate it (a run)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from harness.cli.container import container_option, maybe_run_in_container
from harness.cli.output import emit_json, say
from harness.run.submission import evaluate_submission, find_config
from leaderboard.submission import validate_submission
from leaderboard.submission.limits import MIB, Limits


@click.command()
@click.argument("entry", type=click.Path(exists=True, path_type=Path), metavar="ENTRY")
@click.option(
    "--validate-only", is_flag=True, help="Check the entry; do not train or write records."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Benchmark config naming the standard recommenders and seeds "
    "(default: the config in ./configs that lists the entry's dataset).",
)
@click.option(
    "--results-dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the entry's records are written.",
)
@click.option(
    "--max-file-mb", default=Limits.max_file_bytes // MIB, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--max-total-mb",
    default=Limits.max_total_bytes // MIB,
    show_default=True,
    type=click.IntRange(1),
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@container_option
def submit(
    entry: Path,
    validate_only: bool,
    config_path: Path | None,
    results_dir: Path,
    max_file_mb: int,
    max_total_mb: int,
    as_json: bool,
    container: str | None = None,
) -> None:
    """Validate a leaderboard entry (folder, .zip or .tar.gz) and evaluate it.

    Exit 0 when valid (and evaluated), 1 when rejected (the reason on one line), 2 on bad usage.
    With --container IMAGE the whole command runs inside the condbench image.
    """
    if container:
        maybe_run_in_container()

    limits = Limits(max_file_bytes=max_file_mb * MIB, max_total_bytes=max_total_mb * MIB)
    validated = validate_submission(entry, limits=limits)
    summary = validated.summary()
    say(
        f"valid: {summary['method']} v{summary['version']} on {summary['dataset']} "
        f"(budget {summary['budget']}, {summary['kind']})",
        err=True,
    )
    if not validate_only:
        config = config_path or find_config(validated.manifest.dataset, Path("configs"))
        command = shlex.join(["condbench", "submit", str(entry), "--config", str(config)])
        paths = evaluate_submission(
            validated, config_path=config, results_dir=results_dir, command=command
        )
        summary["records"] = [str(p) for p in paths]
        say(f"wrote {len(paths)} records below {results_dir}", err=True)
    if as_json:
        emit_json(summary)
