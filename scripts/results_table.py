"""Print the result records of a folder as Markdown tables (one per dataset), for docs/results.md.

    python scripts/results_table.py results [--methods original,random,majority,tfdcon]

Per recommender and method: the dataset's Quality metrics (mean over seeds; NDCG@K and
Recall@K at the dataset's cutoffs, from the metric registry), Quality with its 95% bootstrap
interval, chance-adjusted Quality, ΔRandom, overall ratio and training speed-up.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.metrics import is_quality_metric, metric_sort_key
from leaderboard.aggregate import aggregate
from leaderboard.record import read_records


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--methods", default="", help="Comma-separated methods, in this order (default: all)."
)
def main(results_dir: Path, methods: str) -> None:
    entries = aggregate(read_records(results_dir))
    wanted = [m for m in methods.split(",") if m]
    if wanted:
        entries = [e for e in entries if e.method in wanted]
        entries.sort(key=lambda e: (e.dataset, e.recommender, wanted.index(e.method), e.budget))
    current, columns = None, []
    for entry in entries:
        if entry.dataset != current:
            current = entry.dataset
            names = {m for e in entries if e.dataset == current for m in e.metrics}
            columns = sorted(filter(is_quality_metric, names), key=metric_sort_key)
            click.echo(f"\n#### {current}\n")
            click.echo(
                f"| model | method | budget | {' | '.join(columns)} | Quality [95% CI] "
                "| chance-adj. | ΔRandom | ratio | speed-up |"
            )
            click.echo("|---" * (len(columns) + 8) + "|")
        values = " | ".join(
            f"{entry.metrics[c].mean:.4f}" if c in entry.metrics else "–" for c in columns
        )
        ci = entry.quality_ci95
        quality = _pct(entry.quality) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
        delta = "–" if entry.delta_random is None else f"{100 * entry.delta_random:+.2f}"
        ratio = "–" if entry.ratio_overall is None else f"{100 * entry.ratio_overall:.1f}%"
        speedup = "–" if entry.train_speedup is None else f"{entry.train_speedup:.1f}x"
        click.echo(
            f"| {entry.recommender} | {entry.method} | {entry.budget} | {values} | {quality} "
            f"| {_pct(entry.quality_chance_adjusted)} | {delta} | {ratio} | {speedup} |"
        )


if __name__ == "__main__":
    main()
