"""`condbench leaderboard build`: the static site from result records."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.output import emit_json, say


@click.group()
def leaderboard() -> None:
    """Render result records into the static leaderboard site."""


@leaderboard.command("build")
@click.argument(
    "results_dir", type=click.Path(file_okay=False, path_type=Path), metavar="RESULTS_DIR"
)
@click.option(
    "-o",
    "--output",
    "site_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Site folder (created, or replaced when it holds an earlier build).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def build(results_dir: Path, site_dir: Path, as_json: bool) -> None:
    """Build the site from every record below RESULTS_DIR (works from file://, no network)."""
    # lazy: pandas and jinja2 (~0.4 s); leaderboard --help needs neither
    from leaderboard.site import build_site

    summary = build_site(results_dir, site_dir)
    for flag in summary.dataset_flags:
        say(flag.line(), err=True)
    if as_json:
        emit_json(summary.as_dict())
    else:
        say(
            f"built {summary.site_dir / 'index.html'}: {summary.entries} entries "
            f"from {summary.records} records in {summary.sections} sections",
            err=True,
        )
