"""`condbench submit`: validate a leaderboard entry, then evaluate it (a run)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from harness.cli.container import container_option, maybe_run_in_container
from harness.cli.output import emit_json, say
from harness.run.sandbox import SandboxLimits
from harness.run.submission import (
    DEFAULT_SANDBOX_IMAGE,
    SandboxOptions,
    evaluate_submission,
    find_config,
)
from leaderboard.submission.limits import MIB, Limits
from leaderboard.submission.pipeline import opened_entry, validate_entry_root

_LIMITS = SandboxLimits()


def sandbox_options(function):
    """``--sandbox-*``: the image and limits a condenser-module entry runs under."""
    options = [
        click.option("--sandbox-image", default=DEFAULT_SANDBOX_IMAGE, show_default=True,
                     envvar="CONDBENCH_SANDBOX_IMAGE",
                     help="The condbench image a condenser module runs in (never pulled)."),
        click.option("--sandbox-cpus", type=float, default=_LIMITS.cpus, show_default=True),
        click.option("--sandbox-memory-mb", type=int, default=_LIMITS.memory_mb, show_default=True),
        click.option("--sandbox-pids", type=int, default=_LIMITS.pids, show_default=True,
                     help="Processes and threads."),
        click.option("--sandbox-wall-s", type=int, default=_LIMITS.wall_s, show_default=True),
        click.option("--sandbox-output-mb", type=int, default=_LIMITS.output_mb, show_default=True),
        click.option("--sandbox-tmp-mb", type=int, default=_LIMITS.tmp_mb, show_default=True),
        click.option("--condense-seed", type=int, default=0, show_default=True,
                     help="The seed of the module's one condensation."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


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
@sandbox_options
@container_option
def submit(
    entry: Path,
    validate_only: bool,
    config_path: Path | None,
    results_dir: Path,
    max_file_mb: int,
    max_total_mb: int,
    as_json: bool,
    sandbox_image: str,
    sandbox_cpus: float,
    sandbox_memory_mb: int,
    sandbox_pids: int,
    sandbox_wall_s: int,
    sandbox_output_mb: int,
    sandbox_tmp_mb: int,
    condense_seed: int,
    container: str | None = None,
) -> None:
    """Validate a leaderboard entry (folder, .zip or .tar.gz) and evaluate it.

    Exit 0 when valid (and evaluated), 1 when rejected (the reason on one line), 2 on bad usage
    or when a condenser module cannot be sandboxed (no Docker daemon, no image). A condenser
    module runs in the Docker sandbox (docs/submitting.md); its set is then trained here.
    With --container IMAGE the whole command runs inside the condbench image.
    """
    if container:
        maybe_run_in_container()

    limits = Limits(max_file_bytes=max_file_mb * MIB, max_total_bytes=max_total_mb * MIB)
    sandbox = SandboxOptions(
        image=sandbox_image,
        limits=SandboxLimits(
            cpus=sandbox_cpus, memory_mb=sandbox_memory_mb, pids=sandbox_pids,
            wall_s=sandbox_wall_s, output_mb=sandbox_output_mb, tmp_mb=sandbox_tmp_mb,
        ),
        condense_seed=condense_seed,
    )  # fmt: skip
    with opened_entry(entry, limits) as root:
        validated = validate_entry_root(root, limits=limits)
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
                validated, config_path=config, results_dir=results_dir, command=command,
                entry_root=root, sandbox=sandbox,
            )  # fmt: skip
            summary["records"] = [str(p) for p in paths]
            say(f"wrote {len(paths)} records below {results_dir}", err=True)
    if as_json:
        emit_json(summary)
